"""JSON-Schema snapshots of every topic's event, and a compatibility checker.

A snapshot is the event's full model schema (envelope + data) plus ``x-topic`` and
``x-cloudevents-type``. Snapshots are committed under ``contracts/schemas/<topic>.json``;
a test compares them with the models, so an accidental breaking change fails CI.

CLI::

    python -m contracts.schemas write [--force]     # regenerate the snapshots (make schemas)
    python -m contracts.schemas check [--against REF]  # exit 1 on missing, stale or breaking

``write`` refuses (exit 1) to overwrite a snapshot with a breaking change, or to delete
the snapshot of a topic gone from the registry, unless ``--force``. A breaking change
belongs in a new ``V2`` event class and topic, published beside V1 (see contracts/README.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.topics import TOPICS, TopicSpec

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
"""``contracts/schemas/`` in the source tree (the package is installed editable in the workspace)."""


# -- snapshots -------------------------------------------------------------------------


def snapshot(spec: TopicSpec) -> dict[str, Any]:
    """The schema snapshot of one topic: the event's full model schema plus topic and type."""
    schema = spec.event.model_json_schema(mode="serialization")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        **schema,
        "x-topic": spec.name,
        "x-cloudevents-type": spec.event.ce_type,
    }


def snapshots(topics: Iterable[TopicSpec] = TOPICS) -> dict[str, dict[str, Any]]:
    """Topic name -> generated snapshot, for every topic of the registry."""
    return {t.name: snapshot(t) for t in topics}


def snapshot_path(topic: str, directory: Path = SCHEMA_DIR) -> Path:
    return directory / f"{topic}.json"


def dumps(schema: dict[str, Any]) -> str:
    """The committed text of a snapshot (stable: same schema, same bytes)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def load_snapshot(topic: str, directory: Path = SCHEMA_DIR) -> dict[str, Any] | None:
    path = snapshot_path(topic, directory)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def committed_topics(directory: Path = SCHEMA_DIR) -> set[str]:
    """Topic names that have a snapshot file in ``directory``."""
    if not directory.is_dir():
        return set()
    return {p.name.removesuffix(".json") for p in directory.glob("*.json")}


# -- compatibility ---------------------------------------------------------------------


def breaking_changes(old_schema: dict[str, Any], new_schema: dict[str, Any]) -> list[str]:
    """What in ``new_schema`` breaks readers or stored messages written against ``old_schema``.

    Breaking: a removed field (a rename shows as a removal), a field whose type changed,
    a new required field, a field that became required, an enum/Literal that lost a value,
    a changed CloudEvents type. Adding an optional field is not breaking. Nested objects
    (``$ref``/``$defs``), arrays, maps and optional (``anyOf`` with null) are followed.
    """
    problems: list[str] = []
    old_type, new_type = old_schema.get("x-cloudevents-type"), new_schema.get("x-cloudevents-type")
    if old_type is not None and old_type != new_type:
        problems.append(f"CloudEvents type changed: {old_type!r} -> {new_type!r}")
    _Comparer(old_schema, new_schema, problems).compare(old_schema, new_schema, "")
    return problems


_MAX_DEPTH = 16
_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null"}


def _value_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "array" if isinstance(value, list) else "object")


@dataclass
class _Comparer:
    old_root: dict[str, Any]
    new_root: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    def compare(self, old: Any, new: Any, path: str) -> None:
        if path.count(".") + path.count("[]") > _MAX_DEPTH:
            return  # a recursive model: stop following it
        old, new = _resolve(old, self.old_root), _resolve(new, self.new_root)
        old_types, new_types = self.types(old, self.old_root), self.types(new, self.new_root)
        if path and old_types != new_types:
            self.problems.append(f"field '{path}' type changed: {_fmt_types(old_types)} -> {_fmt_types(new_types)}")
            return
        old_values = _enum_values(old, self.old_root)
        if path and old_values is not None:
            lost = old_values - (_enum_values(new, self.new_root) or old_values)
            if lost:
                shown = ", ".join(sorted(lost))
                self.problems.append(f"field '{path}' lost enum/Literal value(s): {shown}")
        self.compare_objects(old, new, path)
        old_items = _only(self.members_with(old, self.old_root, "items"))
        new_items = _only(self.members_with(new, self.new_root, "items"))
        if old_items is not None and new_items is not None:
            self.compare(old_items["items"], new_items["items"], f"{path}[]")

    def compare_objects(self, old: dict[str, Any], new: dict[str, Any], path: str) -> None:
        old_obj = _only(self.members_with(old, self.old_root, "properties"))
        new_obj = _only(self.members_with(new, self.new_root, "properties"))
        if old_obj is not None and new_obj is not None:
            old_props, new_props = old_obj["properties"], new_obj["properties"]
            old_req, new_req = set(old_obj.get("required", ())), set(new_obj.get("required", ()))
            prefix = f"{path}." if path else ""
            for name, old_prop in old_props.items():
                if name not in new_props:
                    self.problems.append(f"field '{prefix}{name}' removed (a rename shows as a removal)")
                    continue
                if name in new_req and name not in old_req:
                    self.problems.append(f"field '{prefix}{name}' became required")
                self.compare(old_prop, new_props[name], f"{prefix}{name}")
            for name in new_props.keys() - old_props.keys():
                if name in new_req:
                    self.problems.append(f"new required field '{prefix}{name}'")
        old_map = _only(self.members_with(old, self.old_root, "additionalProperties", dict))
        new_map = _only(self.members_with(new, self.new_root, "additionalProperties", dict))
        if old_map is not None and new_map is not None:
            self.compare(old_map["additionalProperties"], new_map["additionalProperties"], f"{path}.*")

    def types(self, node: dict[str, Any], root: dict[str, Any]) -> frozenset[str]:
        """The set of JSON types a node admits (``string(date-time)`` keeps the format)."""
        node = _resolve(node, root)
        alternatives = _alternatives(node)
        if alternatives is not None:
            return frozenset().union(*(self.types(m, root) for m in alternatives))
        declared = node.get("type")
        if declared is None:
            values = node.get("enum", [node["const"]] if "const" in node else None)
            if values is None:
                return frozenset({"object"} if "properties" in node else {"any"})
            return frozenset(_value_type(v) for v in values)
        names = [declared] if isinstance(declared, str) else list(declared)
        fmt = node.get("format")
        return frozenset(f"{n}({fmt})" if fmt and n == "string" else n for n in names)

    def members_with(
        self, node: dict[str, Any], root: dict[str, Any], key: str, kind: type = object
    ) -> list[dict[str, Any]]:
        """The node itself or its ``anyOf``/``oneOf`` members that carry ``key``."""
        node = _resolve(node, root)
        alternatives = _alternatives(node)
        if alternatives is None:
            return [node] if isinstance(node.get(key), kind) and key in node else []
        found: list[dict[str, Any]] = []
        for member in alternatives:
            found.extend(self.members_with(member, root, key, kind))
        return found


def _alternatives(node: dict[str, Any]) -> list[Any] | None:
    for key in ("anyOf", "oneOf"):
        if key in node:
            return list(node[key])
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        return list(all_of)
    return None


def _resolve(node: Any, root: dict[str, Any]) -> dict[str, Any]:
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            break
        seen.add(ref)
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node if isinstance(node, dict) else {}


def _enum_values(node: dict[str, Any], root: dict[str, Any]) -> set[str] | None:
    """JSON-encoded enum/const values the node admits, or None when it admits any value."""
    node = _resolve(node, root)
    alternatives = _alternatives(node)
    if alternatives is not None:
        values: set[str] = set()
        for member in alternatives:
            member = _resolve(member, root)
            if member.get("type") == "null":
                continue
            member_values = _enum_values(member, root)
            if member_values is None:
                return None
            values |= member_values
        return values or None
    if "enum" in node:
        return {json.dumps(v, ensure_ascii=False) for v in node["enum"]}
    if "const" in node:
        return {json.dumps(node["const"], ensure_ascii=False)}
    return None


def _only(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if len(items) == 1 else None


def _fmt_types(types: frozenset[str]) -> str:
    return "|".join(sorted(types)) or "nothing"


# -- checking the committed snapshots --------------------------------------------------


@dataclass(frozen=True)
class Finding:
    topic: str
    kind: str  # "missing" | "stale" | "breaking" | "orphan"
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = {
            "missing": "no committed snapshot",
            "stale": "snapshot is stale (compatible change)",
            "breaking": "BREAKING change against the committed snapshot",
            "orphan": "snapshot of a topic that is no longer in the registry",
        }[self.kind]
        lines = [f"{self.topic}: {text}", *(f"    - {d}" for d in self.details)]
        return "\n".join(lines)


def check_snapshots(directory: Path = SCHEMA_DIR, topics: Sequence[TopicSpec] = TOPICS) -> list[Finding]:
    """Compare the committed snapshots in ``directory`` with the models of the registry."""
    findings: list[Finding] = []
    generated = snapshots(topics)
    for name, schema in generated.items():
        committed = load_snapshot(name, directory)
        if committed is None:
            findings.append(Finding(name, "missing"))
        elif committed != schema:
            problems = breaking_changes(committed, schema)
            findings.append(Finding(name, "breaking" if problems else "stale", tuple(problems)))
    for name in sorted(committed_topics(directory) - generated.keys()):
        findings.append(Finding(name, "orphan"))
    return findings


def check_against_git(ref: str, directory: Path = SCHEMA_DIR) -> list[Finding]:
    """Breaking changes of the current models against the snapshots committed at git ``ref``."""
    here = directory.resolve()
    while not here.is_dir():
        here = here.parent
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=here, capture_output=True, text=True, check=True
    ).stdout.strip()
    rel = directory.resolve().relative_to(Path(top).resolve())
    findings: list[Finding] = []
    for name, schema in snapshots().items():
        shown = subprocess.run(
            ["git", "show", f"{ref}:{(rel / f'{name}.json').as_posix()}"],
            cwd=top,
            capture_output=True,
            text=True,
        )
        if shown.returncode != 0:
            continue  # a topic new since ref
        problems = breaking_changes(json.loads(shown.stdout), schema)
        if problems:
            findings.append(Finding(name, "breaking", tuple(problems)))
    return findings


def write_snapshots(directory: Path = SCHEMA_DIR, force: bool = False) -> tuple[list[str], list[Finding]]:
    """Write every snapshot; return (written topic names, refused findings)."""
    findings = check_snapshots(directory)
    refused = [f for f in findings if f.kind in {"breaking", "orphan"}]
    if refused and not force:
        return [], refused
    directory.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for name, schema in snapshots().items():
        path = snapshot_path(name, directory)
        text = dumps(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(name)
    for f in findings:
        if f.kind == "orphan":
            snapshot_path(f.topic, directory).unlink()
    return written, []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.schemas", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="snapshot folder (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="regenerate the committed snapshots")
    w.add_argument("--force", action="store_true", help="write breaking changes and delete orphan snapshots")
    c = sub.add_parser("check", help="exit 1 when a snapshot is missing, stale, orphaned or broken")
    c.add_argument("--against", metavar="GIT_REF", help="also check for breaking changes against a git ref")
    args = parser.parse_args(argv)

    if args.command == "write":
        written, refused = write_snapshots(args.dir, force=args.force)
        if refused:
            print("refusing to write snapshots:", file=sys.stderr)
            for f in refused:
                print(f, file=sys.stderr)
            print(
                "A breaking change needs a new V2 event class and topic beside V1 "
                "(see contracts/README.md); use --force only for a topic nobody consumes yet.",
                file=sys.stderr,
            )
            return 1
        for name in written:
            print(f"wrote {snapshot_path(name, args.dir)}")
        print(f"{len(written)} snapshot(s) written, {len(TOPICS) - len(written)} unchanged")
        return 0

    findings = check_snapshots(args.dir)
    if args.against:
        findings += check_against_git(args.against, args.dir)
    if findings:
        for f in findings:
            print(f, file=sys.stderr)
        print("run `make schemas` (python -m contracts.schemas write) for stale or missing snapshots", file=sys.stderr)
        if any(f.kind == "breaking" for f in findings):
            print(
                "a BREAKING change needs a new V2 event class and topic beside V1 (contracts/README.md)",
                file=sys.stderr,
            )
        return 1
    print(f"{len(TOPICS)} snapshot(s) up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
