"""The console's browser assets, fetched once at install time and served locally.

    python -m console.assets            fetch what is missing or changed (``make install``)
    python -m console.assets --check    exit 1 naming what is missing

Each package of ``assets.toml`` is a tarball of the npm registry, pinned by version and
checked against its ``integrity`` (Subresource Integrity form, ``sha512-<base64>``) before
anything is extracted; only the files listed are written, under ``static/vendor/`` with a
``<file>.version`` beside each. Nothing is fetched at run time (a hall network may be offline).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
MANIFEST = HERE / "assets.toml"


def vendor_dir() -> Path:
    return Path(os.environ.get("CONSOLE_ASSETS_DIR") or HERE / "static" / "vendor")


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    tarball: str
    integrity: str
    files: dict[str, str]

    @property
    def stamp(self) -> str:
        return json.dumps({"name": self.name, "version": self.version, "integrity": self.integrity})


def packages(manifest: Path = MANIFEST) -> list[Package]:
    doc = tomllib.loads(manifest.read_text(encoding="utf-8"))
    return [Package(p["name"], p["version"], p["tarball"], p["integrity"], dict(p["files"])) for p in doc["package"]]


def verify(data: bytes, integrity: str) -> None:
    """Raise unless ``data`` matches the SRI string (``sha512-...``)."""
    algo, _, expected = integrity.partition("-")
    if algo not in ("sha512", "sha384", "sha256"):
        raise ValueError(f"unsupported integrity algorithm {algo!r}")
    actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if actual != expected:
        raise ValueError(f"integrity mismatch: expected {integrity}, got {algo}-{actual}")


def missing(target: Path | None = None) -> list[str]:
    target = target or vendor_dir()
    out = []
    for p in packages():
        for dest in p.files.values():
            stamp = target / f"{dest}.version"
            if not (target / dest).is_file() or not stamp.is_file() or stamp.read_text() != p.stamp:
                out.append(f"{p.name}@{p.version}: {dest}")
    return out


def extract(p: Package, data: bytes, target: Path) -> None:
    verify(data, p.integrity)
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member, dest in p.files.items():
            f = tar.extractfile(member)
            if f is None:
                raise ValueError(f"{p.name}@{p.version} has no file {member}")
            (target / dest).write_bytes(f.read())
            (target / f"{dest}.version").write_text(p.stamp)


def fetch(target: Path | None = None, timeout: float = 60.0) -> list[str]:
    """Fetch every package with a missing or stale file; returns what was written."""
    target = target or vendor_dir()
    todo = {m.split(":", 1)[0] for m in missing(target)}
    written = []
    for p in packages():
        if f"{p.name}@{p.version}" not in todo:
            continue
        with urllib.request.urlopen(p.tarball, timeout=timeout) as resp:
            data = resp.read()
        extract(p, data, target)
        written += [f"{p.name}@{p.version}: {d}" for d in p.files.values()]
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m console.assets", description=__doc__.split("\n", 1)[0])
    ap.add_argument("--check", action="store_true", help="only report what is missing")
    args = ap.parse_args(argv)
    if args.check:
        gone = missing()
        for m in gone:
            print(f"missing: {m}", file=sys.stderr)
        return 1 if gone else 0
    for w in fetch():
        print(f"console assets: fetched {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
