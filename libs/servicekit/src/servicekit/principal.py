"""Who calls: the authenticated principal and its role. Pure (no I/O), so use cases take
a :class:`Principal` directly; :mod:`servicekit.auth` makes one from a verified token."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    APPLICANT = "applicant"
    WINDOW_STAFF = "window_staff"
    REVIEWER = "reviewer"  # carries a department
    HELPER = "helper"
    SUPERVISOR = "supervisor"
    OVERSIGHT = "oversight"  # member of an oversight body
    PARTNER_AGENCY = "partner_agency"  # carries an agency id
    OPERATOR = "operator"


STAFF_ROLES = frozenset({Role.WINDOW_STAFF, Role.REVIEWER, Role.HELPER, Role.SUPERVISOR, Role.OVERSIGHT, Role.OPERATOR})


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role
    department: str | None = None
    agency_id: str | None = None
    name: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def owner_filter(self) -> str | None:
        """Applicants see only their own records: the applicant id to filter on, or None for staff."""
        return self.sub if self.role is Role.APPLICANT else None


__all__ = ["STAFF_ROLES", "Principal", "Role"]
