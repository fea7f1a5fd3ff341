"""The Protocols the use cases depend on, implemented by the adapters (repository)."""

from typing import Protocol


class Repositories(Protocol):
    """The repositories of one unit of work (``tx.repos.<name>``), declared once; none yet."""
