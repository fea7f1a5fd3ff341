"""Construction project approvals: the catalogue (data), the project, the stage state
machine; the facts they record are in ``approvals.domain.events``. Pure."""

from approvals.domain.catalogue import (
    STAGE_NAMES,
    STAGES,
    Catalogue,
    CatalogueError,
    FieldDef,
    ItemDef,
    parse_catalogue,
)
from approvals.domain.errors import (
    AlreadyExists,
    DomainError,
    InvalidState,
    MaterialMismatch,
    NotFound,
    NotYourDepartment,
    StaleDecision,
)
from approvals.domain.forms import ProjectForm
from approvals.domain.project import Entry, MaterialRef, Project, StageOutOfOrder, StageRef
from approvals.domain.stage import HistoryEntry, ItemState, ItemStatus, Review, StageCase, StageStatus, local_day

__all__ = [
    "STAGES",
    "STAGE_NAMES",
    "AlreadyExists",
    "Catalogue",
    "CatalogueError",
    "DomainError",
    "Entry",
    "FieldDef",
    "HistoryEntry",
    "InvalidState",
    "ItemDef",
    "ItemState",
    "ItemStatus",
    "MaterialMismatch",
    "MaterialRef",
    "NotFound",
    "NotYourDepartment",
    "Project",
    "ProjectForm",
    "Review",
    "StageCase",
    "StageOutOfOrder",
    "StageRef",
    "StageStatus",
    "StaleDecision",
    "local_day",
    "parse_catalogue",
]
