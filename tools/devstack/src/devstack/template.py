"""The service template: a new service's folder rendered from ``templates/service/``.

    python -m devstack new-service NAME --port 8006 --title "..." --summary "..."
    python -m devstack new-service NAME --force     (render a listed service's folder again)

A new name is appended to ``services/services.toml`` first; then ``services/<name>/`` is
rendered (the modules of docs/adding-a-service.md, on the kit's typed API) and the files
generated from the list are written again. Each rendered module is a few lines: what every
service shares lives in the kit, so services do not repeat each other.
"""

from __future__ import annotations

import json
import string
import subprocess
import sys
from pathlib import Path

from devstack import catalog, generate
from devstack.catalog import Service

TEMPLATE = Path(__file__).parent / "templates" / "service"


def values(s: Service) -> dict[str, str]:
    return {
        "name": s.name, "package": s.package, "port": str(s.port), "env_prefix": s.env_prefix,
        "title": s.title, "summary": s.summary, "Class": s.class_name,
        "title_literal": json.dumps(f"One Window — {s.title}", ensure_ascii=False),
        "summary_literal": json.dumps(s.summary, ensure_ascii=False),
    }


def rendered(s: Service) -> dict[Path, str]:
    """The service's files (relative to its folder) as the template renders them."""
    out = {}
    for src in sorted(TEMPLATE.rglob("*.tmpl")):
        rel = src.relative_to(TEMPLATE).with_suffix("")
        if rel.parts[0] == "src":
            rel = Path("src", s.package, *rel.parts[1:])
        out[rel] = string.Template(src.read_text(encoding="utf-8")).substitute(values(s))
    return out


def entry(s: Service) -> str:
    """The service as a block of the list."""
    return (f'\n[[service]]\nname = "{s.name}"\npackage = "{s.package}"\nport = {s.port}\n'
            f'env_prefix = "{s.env_prefix}"\ntitle = "{s.title}"\nsummary = "{s.summary}"\n')


def add_to_list(s: Service, root: Path) -> None:
    path = root / catalog.LIST
    text = path.read_text(encoding="utf-8")
    catalog.parse(text + entry(s))  # unique names, packages, ports and prefixes, or ValueError
    path.write_text(text + entry(s), encoding="utf-8")


def render(s: Service, root: Path, *, force: bool = False) -> list[Path]:
    """Write the service's folder; refuses to overwrite an existing file unless ``force``."""
    folder = root / s.folder
    files = rendered(s)
    existing = [p for p in files if (folder / p).exists()]
    if existing and not force:
        raise FileExistsError(f"{s.folder} exists ({', '.join(map(str, existing))}); --force renders it again")
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    # import order depends on the names (first-party packages sort together): let ruff settle it
    subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", "--fix", "--select", "I", str(folder)],
                   cwd=root, check=False)
    return [s.folder / p for p in files]


def new_service(name: str, *, port: int | None, title: str | None, summary: str | None,
                package: str | None = None, env_prefix: str | None = None, force: bool = False,
                root: Path | None = None) -> list[Path]:
    """Add ``name`` to the list (unless listed), render its folder, regenerate the generated files."""
    root = root or catalog.root()
    listed = {s.name: s for s in catalog.services(root)}
    if name in listed:
        s = listed[name]
        given = {"port": port, "title": title, "summary": summary, "package": package, "env_prefix": env_prefix}
        differs = [k for k, v in given.items() if v is not None and v != getattr(s, k)]
        if differs:
            raise ValueError(f"{name} is listed with other {', '.join(differs)}: edit {catalog.LIST} instead")
    else:
        if port is None or not title or not summary:
            raise ValueError(f"{name} is not in {catalog.LIST} yet: give --port, --title and --summary")
        s = Service(name, package or name, port, env_prefix or f"{name.upper()}_", title, summary)
        add_to_list(s, root)
    written = render(s, root, force=force)
    return written + generate.write(root)


__all__ = ["new_service", "render", "rendered"]
