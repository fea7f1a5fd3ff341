"""Domain errors: each names the request field it is about (problem+json ``errors``)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule refused the request; ``field`` names the input at fault, if one is, and ``rule``
    the kind of rule (the problem's ``errors[].type``: rules no JSON Schema states, described in
    the kit's ``ProblemField``): ``form_rule`` across fields, ``role_rule`` for the caller's role
    or account, ``token``, ``check_character``, ``unknown_reference``, ``roster_rule``."""

    field: str | None = None
    rule: str = "form_rule"

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field
        if rule is not None:
            self.rule = rule

    @property
    def errors(self) -> list[dict[str, Any]] | None:
        if not self.field:
            return None
        return [{"field": self.field, "message": str(self), "type": self.rule}]


class NotFound(DomainError):
    """No such case, entry, window, month or list (404)."""


class Forbidden(DomainError):
    """The caller may not do this to this record (403)."""


class Conflict(DomainError):
    """The record's state does not allow it (409): rated already, month final, ..."""


class AlreadyRated(Conflict):
    """The case has a rating; only a review (申诉复核) that annuls it opens the case again."""


class TokenRefused(DomainError):
    """The rating token is expired, used, forged or for another case (422, field ``token``)."""

    field = "token"
    rule = "token"


class InvalidSerial(DomainError):
    """A paper card serial with a wrong check character or format (422, field ``serial``)."""

    field = "serial"
    rule = "check_character"


class SignOffRefused(DomainError):
    """A sign-off by a role that is no oversight body, or by an account or body that signed already (422)."""

    rule = "role_rule"


class DisplayTooShort(DomainError):
    """A red/black list shown for fewer than 15 days (422, field ``display_days``)."""

    field = "display_days"
