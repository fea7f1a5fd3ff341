"""services/services.toml is the one list of services: what is generated from it is current,
what names services agrees with it (the template itself: tests/integration/test_new_service.py).

Contract tier because these are checks of the repository against its declarations; they
read files and start no process or server.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest

from contracts.topics import SERVICES as REGISTRY_SERVICES
from devstack import catalog, generate

ROOT = catalog.root()
LISTED = catalog.services(ROOT)


def test_generated_files_are_current():
    assert generate.stale(ROOT) == [], "run `make generate` and commit the result"


def test_every_service_folder_is_listed_and_every_listed_service_has_one():
    folders = {p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml")}
    assert folders == set(catalog.names(ROOT)) | {w.name for w in catalog.web(ROOT)}


@pytest.mark.parametrize("front_end", catalog.web(ROOT), ids=lambda s: s.name)
def test_a_web_front_end_is_what_the_list_says(front_end: catalog.Service):
    project = tomllib.loads((ROOT / front_end.folder / "pyproject.toml").read_text())["project"]
    assert project["name"] == front_end.distribution
    settings = importlib.import_module(f"{front_end.package}.config").Settings
    assert settings.model_config["env_prefix"] == front_end.env_prefix
    assert settings.model_fields["service_name"].default == front_end.name
    assert settings.model_fields["port"].default == front_end.port


@pytest.mark.parametrize("service", LISTED, ids=lambda s: s.name)
def test_a_service_is_what_the_list_says(service: catalog.Service):
    project = tomllib.loads((ROOT / service.folder / "pyproject.toml").read_text())["project"]
    assert project["name"] == service.distribution
    settings = importlib.import_module(f"{service.package}.config").Settings
    assert settings.model_config["env_prefix"] == service.env_prefix
    assert settings.model_fields["service_name"].default == service.name
    assert settings.model_fields["port"].default == service.port


def test_the_topic_registry_knows_the_same_services():
    """contracts.topics.SERVICES (dead-letter topics, AsyncAPI) is the list's names: the
    contracts are installed without the repository, so they cannot read the list."""
    assert tuple(REGISTRY_SERVICES) == catalog.names(ROOT)


# Files that may name several services: the list, what is generated from it, and places that
# describe or exercise particular services (their folders, the contracts, docs and the README's
# walkthrough, tests, bench).
MAY_NAME_SERVICES = ("services/", "contracts/", "docs/", "README.md", "tests/", "bench/", ".importlinter",
                     "uv.lock", "deploy/kubernetes/kustomization.yaml", "deploy/kubernetes/services/",
                     "deploy/kafka/acls.sh")  # generated from the topic registry (contracts.acls)


def _files() -> list[Path]:
    skip = {".git", ".venv", ".tools", "var", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache",
            ".pytest_cache", ".import_linter_cache", ".hypothesis"}
    out = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if path.is_file() and not skip & set(rel.parts) and not str(rel).startswith(MAY_NAME_SERVICES):
            out.append(path)
    return out


def test_nothing_else_lists_services():
    """Adding a service touches the list and its folder: no other file names two services."""
    words = [re.compile(rf"\b{re.escape(n)}\b") for n in catalog.names(ROOT)]
    offenders = {}
    for path in _files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        named = [w.pattern for w in words if w.search(text)]
        if len(named) > 1:
            offenders[str(path.relative_to(ROOT))] = len(named)
    assert offenders == {}, "read the services from services/services.toml (devstack.catalog) instead"
