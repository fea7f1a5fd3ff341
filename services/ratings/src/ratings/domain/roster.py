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
    business: list[str] = field(default_factory=list)  # the matters it handles (企业开办, ...): the hall screen

    def on_duty(self) -> list[tuple[str, str]]:
        """(staff id, name) of the staff at the window, as the hall screen shows them (工号/姓名)."""
        return [(s, self.name_of(s)) for s in self.staff]

    def name_of(self, staff_id: str) -> str:
        return self.staff_names.get(staff_id, staff_id)
