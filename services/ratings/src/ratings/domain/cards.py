"""Paper rating cards (政务服务评价卡): serials with a check character, the daily issue and
reconciliation per window, and the monthly box opening (开箱验票) with its three sign-offs.

A serial is ten digits and one ISO 7064 Mod 11,2 check character (``0``-``9`` or ``X``,
through python-stdnum): it catches every single-character error and every swap of two
adjacent characters, so a mistyped serial is refused rather than counted for another card."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from stdnum.iso7064 import mod_11_2

from ratings.domain.errors import Conflict, InvalidSerial, SignOffRefused
from ratings.domain.levels import BAD, Level

BODY_DIGITS = 10
SERIAL_LENGTH = BODY_DIGITS + 1
MAX_BODY = 10**BODY_DIGITS - 1


def make_serial(body: int) -> str:
    if not 0 <= body <= MAX_BODY:
        raise InvalidSerial(f"a serial number has at most {BODY_DIGITS} digits")
    digits = f"{body:0{BODY_DIGITS}d}"
    return digits + mod_11_2.calc_check_digit(digits)


def check_serial(serial: str) -> str:
    """The serial, normalised (upper case), or InvalidSerial saying what is wrong."""
    s = serial.strip().upper()
    if len(s) != SERIAL_LENGTH or not s[:-1].isdigit() or not (s[-1].isdigit() or s[-1] == "X"):
        raise InvalidSerial(f"a card serial is {BODY_DIGITS} digits and a check character (0-9 or X), "
                            f"not {serial!r}")
    if not mod_11_2.is_valid(s):
        raise InvalidSerial(f"card serial {serial!r} has a wrong check character: mistyped?")
    return s


def serial_range(first: str, count: int) -> list[str]:
    """``count`` consecutive serials from ``first`` (a valid serial)."""
    body = int(check_serial(first)[:-1])
    if body + count - 1 > MAX_BODY:
        raise InvalidSerial("the range runs past the last serial", field="count")
    return [make_serial(body + i) for i in range(count)]


class CardStatus(StrEnum):
    ISSUED = "issued"
    USED = "used"  # dropped in the box (good or bad slot)
    RETURNED = "returned"  # came back unused at the end of the day
    VOID = "void"  # spoiled, torn, lost


class Slot(StrEnum):
    GOOD = "good"
    BAD = "bad"


@dataclass
class Card:
    serial: str
    window_id: str
    staff_id: str
    day: str  # YYYY-MM-DD (Beijing)
    status: CardStatus = CardStatus.ISSUED
    slot: Slot | None = None

    @property
    def month(self) -> str:
        return self.day[:7]

    def _move(self, to: CardStatus) -> bool:
        if self.status is to:
            return False  # the same report again: nothing changes
        if self.status is not CardStatus.ISSUED:
            raise Conflict(f"card {self.serial} is {self.status.value}, not issued", field="serials")
        self.status = to
        return True

    def drop(self, slot: Slot) -> bool:
        changed = self._move(CardStatus.USED)
        self.slot = slot
        return changed

    def give_back(self) -> bool:
        return self._move(CardStatus.RETURNED)

    def void(self) -> bool:
        return self._move(CardStatus.VOID)


@dataclass(frozen=True)
class Reconciliation:
    """One window's cards of one day: issued = used + returned + void, or an alarm naming the missing."""

    day: str
    window_id: str
    issued: int
    used: int
    returned: int
    void: int
    missing: tuple[str, ...]

    @property
    def balanced(self) -> bool:
        return not self.missing and self.issued == self.used + self.returned + self.void


def reconcile(day: str, window_id: str, cards: list[Card]) -> Reconciliation:
    by = {s: 0 for s in CardStatus}
    for c in cards:
        by[c.status] += 1
    missing = tuple(sorted(c.serial for c in cards if c.status is CardStatus.ISSUED))
    return Reconciliation(day, window_id, len(cards), by[CardStatus.USED], by[CardStatus.RETURNED],
                          by[CardStatus.VOID], missing)


# -- monthly box opening ----------------------------------------------------------------------
class Flag(StrEnum):
    NEVER_ISSUED = "never_issued"
    ALREADY_COUNTED = "already_counted"
    OTHER_PERIOD = "other_period"
    OTHER_WINDOW = "other_window"


@dataclass(frozen=True)
class Vote:
    serial: str
    window_id: str  # the box's window
    level: Level
    counted: bool
    flag: Flag | None
    staff_id: str | None  # from the card's issue, when counted


def level_for(slot: Slot, level: Level | None) -> Level:
    """A card's level: what is ticked on it, which must agree with its slot; the slot's default otherwise."""
    if level is None:
        return Level.SATISFIED if slot is Slot.GOOD else Level.DISSATISFIED
    if (level in BAD) != (slot is Slot.BAD):
        raise Conflict(f"a card ticked {level.label} does not go in the {slot.value} slot", field="level")
    return level


def classify(serial: str, *, month: str, window_id: str, card: Card | None, counted_before: bool,
             level: Level) -> Vote:
    """Count a card, or flag it (not counted): never issued, already counted, issued in
    another period, issued to another window."""
    flag: Flag | None = None
    if card is None:
        flag = Flag.NEVER_ISSUED
    elif counted_before:
        flag = Flag.ALREADY_COUNTED
    elif card.month != month:
        flag = Flag.OTHER_PERIOD
    elif card.window_id != window_id:
        flag = Flag.OTHER_WINDOW
    return Vote(serial, window_id, level, flag is None, flag, card.staff_id if card and flag is None else None)


OVERSIGHT_BODIES = {
    "assessment_office": "市委考核办",
    "discipline_inspection": "市纪委监委作风办",
    "service_center": "市政务服务中心",
}


@dataclass(frozen=True)
class SignOff:
    body: str
    account: str
    at: datetime
    chain_head: str


@dataclass
class BoxOpening:
    """A month's count session: open, votes entered, then final once the three oversight bodies
    signed with three distinct accounts. Nothing is entered after that."""

    month: str
    opened_by: str
    opened_at: datetime
    sign_offs: list[SignOff] = field(default_factory=list)
    final: bool = False
    version: int = 0

    def ensure_open(self) -> None:
        if self.final:
            raise Conflict(f"the box opening of {self.month} is final: nothing changes after the sign-offs")

    def sign(self, *, body: str | None, account: str, is_oversight: bool, now: datetime, chain_head: str) -> bool:
        """Record a sign-off; True when it was the third (the month becomes final)."""
        self.ensure_open()
        if not is_oversight or body not in OVERSIGHT_BODIES:
            raise SignOffRefused("only a member of 市委考核办, 市纪委监委作风办 or 市政务服务中心 signs off a box "
                                 "opening", field="body")
        if any(s.account == account for s in self.sign_offs):
            raise SignOffRefused(f"account {account} signed this month already: three distinct accounts sign",
                                 field="account")
        if any(s.body == body for s in self.sign_offs):
            raise SignOffRefused(f"{OVERSIGHT_BODIES[body]} signed this month already", field="body")
        self.sign_offs.append(SignOff(body, account, now, chain_head))
        self.final = len(self.sign_offs) == len(OVERSIGHT_BODIES)
        return self.final
