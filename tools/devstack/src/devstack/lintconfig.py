"""The import-linter contracts (``.importlinter``), generated from ``services/services.toml``.

    python -m devstack.lintconfig > .importlinter     (or `make generate`, which writes every generated file)

Between packages: services never import each other; contracts import neither the kit nor a
service; the kit imports no service; nothing in production imports the dev tooling.
Inside every service: one layers contract over the template's modules (see LAYERS), a
domain that does no I/O and imports of the kit only its pure modules (DOMAIN_MAY_IMPORT) and
of the contracts only the events, envelope, registry and vocabulary (a consuming service's
domain reads the events it consumes), and use cases that import no driver, broker or
web framework. The kit's and the contracts' modules are read from their folders, so a new
module of either makes the committed file stale (tests/contract/test_service_list.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from devstack import catalog
from devstack.catalog import Service

# Highest first. "a | b": siblings that may not import each other; "(m)": optional (a
# service without that module yet). Modules not listed (e.g. a service's workers) are free.
LAYERS: tuple[str, ...] = (
    "main",                        # app = create_app()
    "bootstrap",                   # the composition root: may import every module below
    "config",                      # Settings: read by the composition root only
    "(api) | (consumers)",         # thin entry points: HTTP routes, Kafka subscribers
    "(schemas)",                   # HTTP DTOs (api's); never seen by the use cases
    "service | (repository)",      # use cases through ports; the MongoDB adapters of the ports
    "ports",                       # Protocols the use cases depend on
    "domain",                      # entities, rules, domain events: pure
)

# Packages that do I/O (database drivers, broker clients, web frameworks and clients,
# tokens, retries, webhooks, mail, telemetry): never in a domain.
IO_PACKAGES: tuple[str, ...] = (
    "pymongo", "motor", "bson", "faststream", "aiokafka", "fastapi", "starlette", "httpx",
    "jwt", "tenacity", "standardwebhooks", "aiosmtplib", "opentelemetry",
)
# ... and never in use cases, which reach them through ports.
USE_CASE_FORBIDDEN: tuple[str, ...] = (
    "pymongo", "motor", "bson", "faststream", "aiokafka", "fastapi", "starlette", "httpx",
)
# What of the kit and of the contracts a domain may import: pure modules only. (Producing
# an event is still the service layer's, through its EventMap: docs/decisions.md, rule 5.)
DOMAIN_MAY_IMPORT: dict[str, frozenset[str]] = {
    "servicekit": frozenset({"aggregate", "amounts", "clock", "masking", "principal", "text"}),
    "contracts": frozenset({"vocabulary", "codes", "envelope", "events", "topics"}),
}
PACKAGE_DIRS = {"servicekit": Path("libs/servicekit/src/servicekit"), "contracts": Path("contracts/src/contracts")}


def submodules(package: str, root: Path) -> list[str]:
    """The top-level modules and subpackages of a workspace package, from its folder."""
    folder = root / PACKAGE_DIRS[package]
    found = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    found |= {p.parent.name for p in folder.glob("*/__init__.py")}
    return [f"{package}.{m}" for m in sorted(found)]


def _options(**options: Iterable[str] | str) -> str:
    lines = []
    for option, value in options.items():
        if isinstance(value, str):
            lines.append(f"{option} = {value}\n")
        else:
            lines.append(f"{option} =\n" + "".join(f"    {v}\n" for v in value))
    return "".join(lines)


def _section(key: str, name: str, kind: str, **options: Iterable[str] | str) -> str:
    return f"[importlinter:contract:{key}]\n" + _options(name=name, type=kind, **options)


def _domain_forbidden(root: Path) -> list[str]:
    kit_and_contracts = [m for pkg, allowed in DOMAIN_MAY_IMPORT.items() for m in submodules(pkg, root)
                         if m.split(".", 1)[1] not in allowed]
    return [*IO_PACKAGES, *kit_and_contracts]


def service_contracts(s: Service, root: Path) -> list[str]:
    p = s.package
    sections = [
        _section(f"{p}-layers", f"{p}: main → bootstrap → config → api | consumers → schemas → "
                                f"service | repository → ports → domain", "layers",
                 containers=[p], layers=LAYERS),
        _section(f"{p}-pure-domain", f"{p}.domain does no I/O; of the kit and the contracts it imports only "
                                     f"pure modules", "forbidden",
                 source_modules=[f"{p}.domain"], forbidden_modules=_domain_forbidden(root)),
        _section(f"{p}-use-cases-no-io", f"{p}.service reaches the database, the broker and HTTP only through ports",
                 "forbidden", source_modules=[f"{p}.service"], forbidden_modules=USE_CASE_FORBIDDEN),
    ]
    if s.lint_exemptions:  # imports the domain still makes until its rewrite: a warning once gone
        sections[1] += _options(ignore_imports=s.lint_exemptions, unmatched_ignore_imports_alerting="warn")
    return sections


# A web front end reads the services' HTTP APIs with the user's token: never a database or the bus.
WEB_FORBIDDEN: tuple[str, ...] = ("pymongo", "motor", "bson", "faststream", "aiokafka")


def web_contracts(w: Service, root: Path) -> list[str]:
    p = w.package
    return [
        _section(f"{p}-http-only", f"{p} reads the services over HTTP only: no database driver, no broker client",
                 "forbidden", source_modules=[p], forbidden_modules=WEB_FORBIDDEN),
        _section(f"{p}-pure-domain", f"{p}.domain does no I/O; of the kit and the contracts it imports only "
                                     f"pure modules", "forbidden",
                 source_modules=[f"{p}.domain"], forbidden_modules=_domain_forbidden(root)),
    ]


def render(root: Path | None = None) -> str:
    root = root or catalog.root()
    services = catalog.services(root)
    web = catalog.web(root)
    backends = [s.package for s in services]
    packages = [*backends, *(w.package for w in web)]
    header = (
        "# Generated from services/services.toml by `make generate` (python -m devstack.lintconfig);\n"
        "# do not edit: change devstack/lintconfig.py or the list, then regenerate. `make lint` checks it.\n"
        "[importlinter]\n"
        + _options(root_packages=["contracts", "servicekit", *packages, "devstack"])
        + "# Needed to forbid third-party packages (pymongo, faststream, ...).\n"
        "include_external_packages = True\n"
    )
    sections = [
        _section("services-independent", "Services never import each other (what one needs from another "
                                         "arrives as an event)", "independence", modules=packages),
        _section("contracts-standalone", "contracts imports no service and not the kit", "forbidden",
                 source_modules=["contracts"], forbidden_modules=["servicekit", *packages, "devstack"]),
        _section("kit-knows-no-service", "servicekit (plumbing only) imports no service", "forbidden",
                 source_modules=["servicekit"], forbidden_modules=[*packages, "devstack"]),
        _section("no-dev-tooling-in-production", "Services and the kit do not import the dev tooling (devstack)",
                 "forbidden", source_modules=["servicekit", *packages], forbidden_modules=["devstack"]),
    ]
    for s in services:
        sections += service_contracts(s, root)
    for w in web:
        sections += web_contracts(w, root)
    return header + "".join("\n" + s for s in sections)


if __name__ == "__main__":
    print(render(), end="")
