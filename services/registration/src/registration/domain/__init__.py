"""Company start-up domain: the form, the case state machine, the credit code; the facts
a case records are in ``registration.domain.events``. Pure."""

from contracts.vocabulary import STEP_DEPARTMENT, Department, Step
from registration.domain.case import (
    AFTER_LICENCE,
    RANK,
    ApplicantRequired,
    Case,
    CorrectionNotAllowed,
    DomainError,
    HistoryEntry,
    InvalidState,
    MaterialNotListed,
    NameTaken,
    NotFound,
    NotYourDepartment,
    ReturnNotAllowed,
    StaleDecision,
    Status,
    StepState,
    StepStatus,
)
from registration.domain.codes import make_uscc, validate_uscc
from registration.domain.events import Kind
from registration.domain.forms import ChangeForm, CompanyForm, required_materials

__all__ = [
    "AFTER_LICENCE",
    "RANK",
    "STEP_DEPARTMENT",
    "ApplicantRequired",
    "Case",
    "ChangeForm",
    "CompanyForm",
    "CorrectionNotAllowed",
    "Department",
    "DomainError",
    "HistoryEntry",
    "InvalidState",
    "Kind",
    "MaterialNotListed",
    "NameTaken",
    "NotFound",
    "NotYourDepartment",
    "ReturnNotAllowed",
    "StaleDecision",
    "Status",
    "Step",
    "StepState",
    "StepStatus",
    "make_uscc",
    "required_materials",
    "validate_uscc",
]
