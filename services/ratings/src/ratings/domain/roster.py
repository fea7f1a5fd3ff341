"""The windows of the hall and their staff (ratings owns the roster: there is no window elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Window:
    window_id: str
    name: str
    department: str | None = None
    staff: list[str] = field(default_factory=list)
    staff_names: dict[str, str] = field(default_factory=dict)
    owner_id: str | None = None  # who owns its bad ratings in the ledger (the window's head)
    version: int = 0

    def name_of(self, staff_id: str) -> str:
        return self.staff_names.get(staff_id, staff_id)
