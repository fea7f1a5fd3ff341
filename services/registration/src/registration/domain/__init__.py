"""Company start-up domain: the form, the case state machine, the credit code. Pure."""

from registration.domain.case import (
    AFTER_LICENCE,
    DEPARTMENT,
    RANK,
    Case,
    CorrectionNotAllowed,
    DomainError,
    DuplicateSubmission,
    Fact,
    HistoryEntry,
    InvalidState,
    NameTaken,
    NotFound,
    StaleDecision,
    Status,
    Step,
    StepState,
    StepStatus,
)
from registration.domain.codes import make_uscc, validate_uscc
from registration.domain.forms import ChangeForm, CompanyForm, required_materials

__all__ = [
    "AFTER_LICENCE",
    "DEPARTMENT",
    "RANK",
    "Case",
    "ChangeForm",
    "CompanyForm",
    "CorrectionNotAllowed",
    "DomainError",
    "DuplicateSubmission",
    "Fact",
    "HistoryEntry",
    "InvalidState",
    "NameTaken",
    "NotFound",
    "StaleDecision",
    "Status",
    "Step",
    "StepState",
    "StepStatus",
    "make_uscc",
    "required_materials",
    "validate_uscc",
]
