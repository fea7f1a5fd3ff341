"""The service template renders a new service from the list and a folder, and regenerates
everything that names services (integration tier: it runs ruff as a process on the
rendered files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devstack import catalog, generate, template

ROOT = catalog.root()


def test_new_service_adds_an_entry_and_a_folder_and_regenerates(tmp_path: Path):
    (tmp_path / "services").mkdir()
    shutil.copy(ROOT / catalog.LIST, tmp_path / catalog.LIST)
    for folder in ("contracts", "libs"):  # the kit's and the contracts' modules, for the domain contract
        (tmp_path / folder).symlink_to(ROOT / folder)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")

    written = template.new_service("zoning", port=8099, title="Zoning (规划)", summary="Zoning checks.",
                                   root=tmp_path)

    assert catalog.get("zoning", tmp_path) == catalog.Service("zoning", "zoning", 8099, "ZONING_",
                                                              "Zoning (规划)", "Zoning checks.")
    modules = {p.stem for p in (tmp_path / "services/zoning/src/zoning").glob("*.py")}
    assert modules == {"__init__", "main", "bootstrap", "config", "domain", "service", "ports", "repository",
                       "api", "schemas", "consumers"}
    for path in (tmp_path / "services/zoning").rglob("*.py"):
        compile(path.read_text(), str(path), "exec")
    assert Path(".importlinter") in written and "[importlinter:contract:zoning-layers]" in (
        tmp_path / ".importlinter").read_text()
    assert (tmp_path / "deploy/kubernetes/services/zoning/kustomization.yaml").is_file()
    assert generate.stale(tmp_path) == []
    with pytest.raises(FileExistsError):
        template.new_service("zoning", port=None, title=None, summary=None, root=tmp_path)
    with pytest.raises(ValueError, match="port repeated"):
        template.new_service("parks", port=8099, title="Parks", summary="Parks.", root=tmp_path)
