"""Settings of approvals: env prefix ``APPROVALS_``; the shared infrastructure variables unprefixed too.
The stage catalogue is a data file (``catalogue_path``; default: the one shipped), read and checked here."""

from __future__ import annotations

import tomllib
from pathlib import Path

from approvals.domain import Catalogue, CatalogueError, parse_catalogue
from servicekit.config import ServiceSettings, service_config

DEFAULT_CATALOGUE = Path(__file__).resolve().parent / "catalogue" / "default.toml"


class Settings(ServiceSettings):
    model_config = service_config("APPROVALS_")

    service_name: str = "approvals"
    port: int = 8002
    catalogue_path: str = ""  # '' = the shipped catalogue/default.toml
    warning_before_hours: float = 8.0  # a stage's deadline warning this long before its time limit
    at_risk_within_hours: float = 24.0  # "at risk" list horizon for helpers and supervisors


def load_catalogue(path: str | Path) -> Catalogue:
    """Read and check a catalogue file (TOML): CatalogueError naming every problem."""
    path = Path(path or DEFAULT_CATALOGUE)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(str(path), [{"field": "catalogue", "message": f"not valid TOML: {exc}"}]) from exc
    return parse_catalogue(data, str(path))
