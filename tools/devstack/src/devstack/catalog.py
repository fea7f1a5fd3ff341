"""The one list of services, ``services/services.toml``, read and checked.

Everything in the development tooling that names services takes them from here: the
embedded stack, the OpenAPI writer, the generated files (``devstack.generate``) and the
service template (``devstack.template``). The production code never reads it: a service
knows only itself, and the generated files carry what deployment needs.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

LIST = Path("services") / "services.toml"
_NAME = re.compile(r"^[a-z][a-z0-9]*$")  # a folder, a Python package, a DNS label and a database name alike
_PREFIX = re.compile(r"^[A-Z][A-Z0-9]*_$")
_REQUIRED = ("name", "package", "env_prefix", "title", "summary")


@dataclass(frozen=True)
class Service:
    name: str
    package: str
    port: int
    env_prefix: str
    title: str
    summary: str
    lint_exemptions: tuple[str, ...] = ()

    @property
    def distribution(self) -> str:
        return f"ow-{self.name}"

    @property
    def folder(self) -> Path:
        return Path("services") / self.name

    @property
    def image(self) -> str:
        return f"one-window/{self.name}"

    @property
    def class_name(self) -> str:
        """The use-case class of the template (``Approvals``)."""
        return self.name.capitalize()


def root() -> Path:
    """The workspace root: ``$DEVSTACK_ROOT``, else the folder above this package that holds
    the list (a development install is editable), else the current directory."""
    if os.environ.get("DEVSTACK_ROOT"):
        return Path(os.environ["DEVSTACK_ROOT"]).resolve()
    for d in (*Path(__file__).resolve().parents, Path.cwd().resolve(), *Path.cwd().resolve().parents):
        if (d / LIST).is_file():
            return d
    raise FileNotFoundError(f"no {LIST} above {Path(__file__).parent} or the current directory")


def parse(text: str, table: str = "service") -> tuple[Service, ...]:
    """The services (``table="web"``: the web front ends) of a list's text, checked: names,
    packages, ports and prefixes unique across both."""
    doc = tomllib.loads(text)

    def read(entries: list[dict[str, object]]) -> tuple[Service, ...]:
        return tuple(Service(**{k: str(entry[k]) for k in _REQUIRED}, port=int(str(entry["port"])),
                             lint_exemptions=tuple(str(x) for x in entry.get("lint_exemptions", ())))  # type: ignore[attr-defined]
                     for entry in entries)

    everything = read(doc.get("service", [])) + read(doc.get("web", []))
    for s in everything:
        if not (_NAME.match(s.name) and _NAME.match(s.package)):
            raise ValueError(f"{s.name!r} / {s.package!r}: names and packages are lowercase letters and digits")
        if not _PREFIX.match(s.env_prefix):
            raise ValueError(f"{s.name}: env_prefix {s.env_prefix!r} is upper case and ends with '_'")
        if any(c in s.title + s.summary for c in '"\\\n'):
            raise ValueError(f"{s.name}: no double quote, backslash or line break in the title and summary")
    for attr in ("name", "package", "port", "env_prefix"):
        values = [getattr(s, attr) for s in everything]
        dupes = sorted({str(v) for v in values if values.count(v) > 1})
        if dupes:
            raise ValueError(f"{LIST}: {attr} repeated: {', '.join(dupes)}")
    return read(doc.get(table, []))


def services(base: Path | None = None) -> tuple[Service, ...]:
    """Every service, in the list's order."""
    return parse(((base or root()) / LIST).read_text(encoding="utf-8"))


def web(base: Path | None = None) -> tuple[Service, ...]:
    """The web front ends (``[[web]]``: backends-for-frontends over the services' APIs)."""
    return parse(((base or root()) / LIST).read_text(encoding="utf-8"), "web")


def names(base: Path | None = None) -> tuple[str, ...]:
    return tuple(s.name for s in services(base))


def get(name: str, base: Path | None = None) -> Service:
    for s in services(base):
        if s.name == name:
            return s
    raise KeyError(f"{name!r} is not in {LIST}")


__all__ = ["LIST", "Service", "get", "names", "parse", "root", "services", "web"]
