"""Thin FastStream subscribers (registration consumes department answers; none yet)."""

from servicekit.app import ServiceKit


def register(kit: ServiceKit) -> None:
    """Attach this service's subscribers to the kit's broker."""
