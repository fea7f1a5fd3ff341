"""The domain's errors; ``errors`` (when set) names every bad field for problem+json."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken."""

    errors: list[dict[str, str]] | None = None

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        if errors is not None:
            self.errors = errors


class InvalidState(DomainError):
    """Not in a state that allows this (409)."""


class StaleDecision(InvalidState):
    """A department answered a request that is no longer open."""


class NotFound(DomainError):
    """No such project or stage (or not the caller's)."""


class NotYourDepartment(DomainError):
    """A department answered an item (or part of a form) that is not its own (403)."""


class AlreadyExists(DomainError):
    """A project with this code exists (409)."""


class MaterialMismatch(DomainError):
    """The bytes sent do not have the hash declared for them (422 naming ``sha256``)."""
