"""Every file generated from ``services/services.toml``, written or checked.

    python -m devstack generate            write them (`make generate`)
    python -m devstack generate --check    exit 1 naming the stale ones (`make lint`, tests/contract)

* ``.importlinter``: the import contracts (:mod:`devstack.lintconfig`);
* ``deploy/kubernetes/kustomization.yaml``: the platform (namespace, config, topic Job, every
  service's overlay) and the images to pin;
* ``deploy/kubernetes/services/<name>/kustomization.yaml``: one overlay per service over the
  template ``deploy/kubernetes/service-base`` (name, label, image).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from devstack import catalog, lintconfig
from devstack.catalog import Service

KUBE = Path("deploy/kubernetes")
OVERLAYS = KUBE / "services"
HEADER = "# Generated from services/services.toml by `make generate` (python -m devstack generate); do not edit.\n"


def kustomization(services: tuple[Service, ...]) -> str:
    resources = ["namespace.yaml", "configmap.yaml", "topics-job.yaml", *(f"services/{s.name}" for s in services)]
    images = [*(s.image for s in services), "one-window/devstack"]
    return (
        HEADER
        + "# kubectl apply -k deploy/kubernetes   (after creating the one-window-secrets Secret)\n"
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "namespace: one-window\n"
        "resources:\n" + "".join(f"  - {r}\n" for r in resources)
        + "# Pin the images you built and pushed (`make images`):\n"
        "images:\n" + "".join(f"  - {{name: {i}, newName: {i}, newTag: latest}}\n" for i in images)
    )


def overlay(s: Service) -> str:
    return (
        HEADER
        + f"# {s.name}: {s.title}. The service template with this service's name, label and image.\n"
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "resources:\n"
        "  - ../../service-base\n"
        "patches:\n"
        "  - target: {kind: Deployment, name: service}\n"
        "    options: {allowNameChange: true}\n"
        "    patch: |-\n"
        f"      - {{op: replace, path: /metadata/name, value: {s.name}}}\n"
        f"      - {{op: replace, path: /spec/template/spec/containers/0/name, value: {s.name}}}\n"
        "  - target: {kind: Service, name: service}\n"
        "    options: {allowNameChange: true}\n"
        "    patch: |-\n"
        f"      - {{op: replace, path: /metadata/name, value: {s.name}}}\n"
        "labels:\n"
        f"  - pairs: {{app.kubernetes.io/name: {s.name}}}\n"
        "    includeSelectors: true\n"
        "    includeTemplates: true\n"
        "images:\n"
        f"  - {{name: one-window/service, newName: {s.image}}}\n"
    )


def files(root: Path) -> dict[Path, Callable[[], str]]:
    """Each generated file (relative to the root) and how to render it."""
    services = catalog.services(root) + catalog.web(root)
    out: dict[Path, Callable[[], str]] = {
        Path(".importlinter"): lambda: lintconfig.render(root),
        KUBE / "kustomization.yaml": lambda: kustomization(services),
    }
    for s in services:
        out[OVERLAYS / s.name / "kustomization.yaml"] = lambda s=s: overlay(s)  # type: ignore[misc]
    return out


def _orphans(root: Path) -> list[Path]:
    """Overlay folders of services no longer in the list."""
    names = {s.name for s in catalog.services(root) + catalog.web(root)}
    folder = root / OVERLAYS
    return sorted(d.relative_to(root) for d in folder.iterdir() if d.is_dir() and d.name not in names) \
        if folder.is_dir() else []


def stale(root: Path | None = None) -> list[str]:
    """The generated files that differ from what the list gives (empty: all current)."""
    root = root or catalog.root()
    out = [str(path) for path, render in files(root).items()
           if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != render()]
    return out + [f"{d}/ (not in the list)" for d in _orphans(root)]


def write(root: Path | None = None) -> list[Path]:
    """Write every generated file; remove overlays of services no longer listed. Returns what changed."""
    root = root or catalog.root()
    changed = []
    for path, render in files(root).items():
        text, target = render(), root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            changed.append(path)
    for d in _orphans(root):
        shutil.rmtree(root / d)
        changed.append(d)
    return changed


__all__ = ["files", "stale", "write"]
