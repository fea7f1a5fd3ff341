"""Domain errors of the notifications service (mapped to problem+json in bootstrap)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain was broken."""


class NotFound(DomainError):
    """No such resource (or not the caller's: scoped reads answer 404, never 403)."""


class Forbidden(DomainError):
    """The caller's role may not do this."""


class InvalidRequest(DomainError):
    """A request breaks a rule; ``errors`` names every bad field at once."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class InvalidTransition(DomainError):
    """A status change the lifecycle does not allow."""


class TemplateError(DomainError):
    """A template cannot be rendered: unknown template or version, or a field missing."""


class TemplateFieldMissing(TemplateError):
    """Rendering lacked personalisation fields: an error, never a blank in the text."""

    def __init__(self, template_id: str, missing: list[str]) -> None:
        super().__init__(f"template {template_id} lacks the fields {', '.join(missing)}")
        self.template_id, self.missing = template_id, missing


class CaseUnknown(DomainError):
    """An event needs what notifications knows about its case (the applicant) and that is
    not known yet (its earlier events have not arrived). Retryable."""
