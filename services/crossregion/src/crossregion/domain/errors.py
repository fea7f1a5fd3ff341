"""The domain's errors (the API maps them to 4xx)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken."""

    errors: list[dict[str, str]] | None = None

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None) -> None:
        """``rule``: the error's ``type`` when it is a rule beyond the request's schema (a code
        list, the outbound policy, a time range)."""
        super().__init__(message)
        if field is not None:
            self.errors = [{"field": field, "message": message, **({"type": rule} if rule else {})}]


class NotFound(DomainError):
    """No such region or case (or not the caller's)."""


class NotAllowed(DomainError):
    """The caller's role may not do this."""


class InvalidState(DomainError):
    """The case is not in a state that allows this."""


class NotAgreed(DomainError):
    """The partner region has not agreed to this matter or mode."""


class ExchangeRefused(Exception):
    """An inbound exchange is refused: ``status`` (4xx) and ``reason`` (a fixed phrase, safe to
    show to the sender); nothing is created, an audit record is written."""

    def __init__(self, status: int, reason: str, *, region: str | None = None, key_id: str | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.region, self.key_id = status, reason, region, key_id
