"""Write each service's OpenAPI document (generated from the code) to docs/openapi/<name>.json,
for every service of ``services/services.toml``.

    python -m devstack.openapi [--check]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from devstack import catalog

OUT = catalog.root() / "docs" / "openapi"


def document(service: str) -> str:
    app = importlib.import_module(f"{catalog.get(service).package}.bootstrap").create_app()
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--check", action="store_true", help="exit 1 if a committed document is stale")
    args = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    stale = []
    for service in catalog.names():
        path, text = OUT / f"{service}.json", document(service)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(service)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(OUT.parents[1])}")
    if stale:
        print(f"stale OpenAPI documents: {', '.join(stale)}; run `make openapi`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
