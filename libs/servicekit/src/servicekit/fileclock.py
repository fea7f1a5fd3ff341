"""A clock an end-to-end test moves from outside the process: it reads an ISO-8601 instant from
a file (written by the test), and is the system clock while the file is absent or empty.
Only ever configured by a test setting; production wires :class:`~servicekit.clock.SystemClock`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from servicekit.clock import ensure_utc


class FileClock:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def now(self) -> datetime:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            text = ""
        return ensure_utc(datetime.fromisoformat(text)) if text else datetime.now(UTC)

    @staticmethod
    def set(path: str | Path, at: datetime) -> None:
        """Write ``at`` (aware) as the instant the clock reads (atomically)."""
        tmp = Path(f"{path}.tmp")
        tmp.write_text(ensure_utc(at).isoformat())
        tmp.replace(path)


__all__ = ["FileClock"]
