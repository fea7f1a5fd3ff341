"""The cross-region case: one application taken at one region's window and handled in one
or more regions. Pure: no I/O.

Outbound (taken here, handled elsewhere; 异地代收代办 with one handling region, 多地联办 with
several): ``forwarded`` → each region's part progresses (``accepted``, ``licence_issued`` ...)
→ ``completed`` when every part is done → ``result_ready`` (collected here) → ``handed_out``.

Inbound (handled here for another region) and online (全程网办, an applicant from elsewhere
applying here): ``received`` → ``registered`` (registration made it a case) → mirrors that
case's statuses, each sent back to the origin region → ``completed``.

The timeline records every status and the custody trail of the physical materials
(sent by courier with a waybill number, received, returned)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from crossregion.domain import events as facts
from crossregion.domain.errors import DomainError, InvalidState
from crossregion.domain.events import DeliverAt, Direction
from servicekit.aggregate import Aggregate

REFERENCE = re.compile(r"^(?P<region>[1-8]\d{5})-\d{8}-[0-9A-F]{8}$")
FINAL = ("completed", "rejected")
PART_STATUSES = ("forwarded", "received", "registered", "incomplete", "accepted", "returned", "licence_issued",
                 "completed", "rejected", "handed_out")
CustodyAction = Literal["sent", "received", "returned"]


def new_reference(region: str, now: datetime, token: str) -> str:
    """``<origin division code>-<yyyymmdd>-<8 hex>``: unique across regions (the origin's code leads)."""
    return f"{region}-{now:%Y%m%d}-{token.upper()}"


def reference_region(reference: str) -> str | None:
    """The origin region a reference names, or None if it is not one."""
    m = REFERENCE.match(reference)
    return m.group("region") if m else None


@dataclass
class Part:
    """One handling region's part of the case."""

    region: str
    status: str = "forwarded"
    seq: int = 0  # the last status update taken (updates arrive numbered; older ones are ignored)
    remote_case_number: str | None = None
    completed_at: datetime | None = None
    within_time_limit: bool = True

    @property
    def done(self) -> bool:
        return self.status == "completed"


@dataclass
class TimelineEntry:
    at: datetime
    action: str
    actor: str
    region: str
    detail: str = ""


@dataclass
class Custody:
    """One parcel of physical materials, by its waybill number."""

    waybill: str
    carrier: str
    status: CustodyAction
    sent_to: str  # division code of the region it was sent to
    updated_at: datetime


@dataclass(kw_only=True)
class CrossCase(Aggregate):
    reference: str
    direction: Direction
    mode: str
    matter: str
    origin_region: str
    here: str  # our division code
    applicant_id: str
    applicant_phone: str | None
    form: dict[str, Any]
    deliver_at: DeliverAt
    opened_at: datetime
    staff_id: str | None = None
    status: str = "forwarded"
    parts: dict[str, Part] = field(default_factory=dict)
    region_names: dict[str, str] = field(default_factory=dict)
    custody: list[Custody] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    completed_at: datetime | None = None
    next_seq: int = 0  # inbound: the number of the next status update sent to the origin

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def take(cls, *, reference: str, here: str, mode: str, matter: str, handling: dict[str, str],
             applicant_id: str, applicant_phone: str | None, form: dict[str, Any], deliver_at: DeliverAt,
             staff_id: str, now: datetime) -> CrossCase:
        """Our window took the application for other regions (``handling``: code → name), after
        the identity check and formal review here; it goes to each of them."""
        if not handling:
            raise DomainError("name the region(s) that handle it", field="handling_regions")
        if here in handling:
            raise DomainError("a case handled here is not a cross-region case", field="handling_regions")
        if mode == "proxy" and len(handling) != 1:
            raise DomainError("异地代收代办 goes to one handling region; several: mode joint", field="mode")
        if mode == "joint" and len(handling) < 2:
            raise DomainError("多地联办 needs two or more handling regions", field="handling_regions")
        if mode == "online":
            raise DomainError("全程网办 is applied for online, not at the window", field="mode")
        case = cls(reference=reference, direction="outbound", mode=mode, matter=matter, origin_region=here,
                   here=here, applicant_id=applicant_id, applicant_phone=applicant_phone, form=form,
                   deliver_at=deliver_at, opened_at=now, staff_id=staff_id,
                   parts={code: Part(code) for code in handling}, region_names=dict(handling))
        names = "、".join(handling.values())
        case._log(now, "forwarded", staff_id, here, f"identity checked and formal review passed; sent to {names}")
        case.record(facts.CrossCaseOpened(applicant_id=applicant_id, applicant_phone=applicant_phone, matter=matter,
                                          mode=mode, direction="outbound", origin_region=here,
                                          handling_regions=sorted(handling), region_names=names))
        return case

    @classmethod
    def receive(cls, *, reference: str, here: str, here_name: str, origin_region: str, origin_name: str, mode: str,
                matter: str, applicant_id: str, applicant_phone: str | None, form: dict[str, Any],
                deliver_at: DeliverAt, now: datetime) -> CrossCase:
        """A case to handle here: forwarded by ``origin_region``'s center, or (``origin_region``
        == ``here``, mode online) applied for online by an applicant from elsewhere. Registration
        makes it a case (the forwarded event)."""
        if reference_region(reference) != origin_region:
            raise DomainError(f"reference {reference!r} is not one of {origin_region}'s", field="reference")
        if (mode == "online") != (origin_region == here):
            raise DomainError("全程网办 cases are applied for here; forwarded ones come from elsewhere", field="mode")
        case = cls(reference=reference, direction="inbound", mode=mode, matter=matter, origin_region=origin_region,
                   here=here, applicant_id=applicant_id, applicant_phone=applicant_phone, form=form,
                   deliver_at=deliver_at, opened_at=now, status="received", parts={here: Part(here, "received")},
                   region_names={here: here_name, origin_region: origin_name})
        case._log(now, "received", origin_region, origin_region,
                  "applied online" if mode == "online" else f"forwarded by {origin_name}")
        case.record(facts.CrossCaseOpened(applicant_id=applicant_id, applicant_phone=applicant_phone, matter=matter,
                                          mode=mode, direction="inbound", origin_region=origin_region,
                                          handling_regions=[here], region_names=here_name))
        case.record(facts.CaseForwarded(reference=reference, matter=matter, mode=mode, origin_region=origin_region,
                                        applicant_id=applicant_id, applicant_phone=applicant_phone, form=form))
        return case

    # -- inbound: the case registration handles here --------------------------------------------
    def mirror(self, *, status: str, at: datetime, detail: str, case_number: str | None,
               within_time_limit: bool = True) -> int | None:
        """Registration's case changed status: take it. Returns the number of the status update
        to send to the origin region (None: nothing changed, or the origin is here)."""
        if self.direction != "inbound":
            raise InvalidState(f"{self.reference} is handled elsewhere")
        part = self.parts[self.here]
        if part.status == status and part.remote_case_number == case_number:
            return None
        if part.status in FINAL:  # registration's topics are not ordered among themselves: a step
            if status in FINAL or any(t.action == status for t in self.timeline):  # reported after the end
                return None  # is recorded (and sent on), the status stays
            self._log(at, status, "registration", self.here, detail or f"case {case_number}")
            if self.mode == "online":
                self._progressed(status, self.here, detail, case_number)
                return None
            self.next_seq += 1
            return self.next_seq
        part.status, part.remote_case_number = status, case_number or part.remote_case_number
        self._log(at, status, "registration", self.here, detail or f"case {case_number}")
        if status == "completed":
            part.completed_at, part.within_time_limit = at, within_time_limit
        if self.mode == "online":  # the applicant applied here: tell them here
            self._progressed(status, self.here, detail, case_number)
        if status in FINAL:
            self._close(status, at)
        else:
            self.status = status
        if self.mode == "online":
            return None
        self.next_seq += 1
        return self.next_seq

    # -- outbound: what the handling regions report ---------------------------------------------
    def progress(self, *, region: str, seq: int, status: str, at: datetime, detail: str,
                 remote_case_number: str | None, within_time_limit: bool = True) -> bool:
        """A handling region's status update (numbered by it). An update older than the last
        one taken, or the same again, changes nothing: False."""
        if self.direction != "outbound":
            raise InvalidState(f"{self.reference} is handled here")
        part = self.parts.get(region)
        if part is None:
            raise DomainError(f"{region} has no part in {self.reference}", field="region")
        if status not in PART_STATUSES:
            raise DomainError(f"unknown status {status!r}", field="status")
        if seq <= part.seq:
            return False
        if part.status in FINAL:  # a step the handling region reported after its end: recorded, status stays
            part.seq = seq
            if status in FINAL:
                return False
            self._log(at, status, region, region, detail)
            self._progressed(status, region, detail, part.remote_case_number)
            return True
        part.seq, part.status = seq, status
        part.remote_case_number = remote_case_number or part.remote_case_number
        self._log(at, status, region, region, detail)
        self._progressed(status, region, detail, part.remote_case_number)
        if status == "completed":
            part.completed_at, part.within_time_limit = at, within_time_limit
            if self.mode == "joint" and not all(p.done for p in self.parts.values()):
                self._progressed("part_completed", region, f"{self._name(region)}的部分已办结", part.remote_case_number)
                return True
            self._close("completed", at)
        elif status == "rejected":
            self._close("rejected", at)
        elif self.status not in FINAL:
            self.status = status
        return True

    def _close(self, status: str, at: datetime) -> None:
        self.status, self.completed_at = status, at
        if status != "completed":
            return
        if not self._collected_elsewhere():
            self.record(facts.CaseCompleted(
                applicant_id=self.applicant_id, matter=self.matter, mode=self.mode, origin_region=self.origin_region,
                handling_regions=sorted(self.parts), staff_id=self.staff_id, completed_at=at,
                within_time_limit=all(p.within_time_limit for p in self.parts.values()), deliver_at=self.deliver_at))
        if self._delivers_here():
            self.status = "result_ready"
            self._log(at, "result_ready", "system", self.here, "the result is ready at this window")
            self._progressed("result_ready", self.here, "结果已到达本窗口，可领取", None)

    def _collected_elsewhere(self) -> bool:
        """The completion event is published where the applicant is served: the origin."""
        return self.direction == "inbound" and self.mode != "online"

    def _delivers_here(self) -> bool:
        if self.deliver_at == "origin":
            return self.origin_region == self.here
        return self.direction == "inbound"  # collected where it is handled: here, if we handle it

    # -- the window ------------------------------------------------------------------------------
    def hand_out(self, *, staff_id: str, now: datetime) -> int | None:
        """The result is handed to the applicant here. Returns the number of the status update to
        send to the origin region when it is another (the result was collected where it was
        handled), else None; None too when it was handed out already."""
        if self.status == "handed_out":
            return None
        if self.status != "result_ready":
            raise InvalidState(f"{self.reference} is {self.status}: no result to hand out here")
        self.status = "handed_out"
        self._log(now, "handed_out", staff_id, self.here, "result handed to the applicant")
        if self.direction == "outbound" or self.mode == "online":
            self._progressed("handed_out", self.here, "结果已领取", None)
            return None
        self.next_seq += 1
        return self.next_seq

    def record_custody(self, *, action: CustodyAction, waybill: str, carrier: str, actor: str, region: str,
                       now: datetime, sent_to: str | None = None) -> bool:
        """A step of the physical materials' custody: sent by courier (with its waybill number),
        received, returned. In order per waybill; the same step again changes nothing: False."""
        parcel = next((c for c in self.custody if c.waybill == waybill), None)
        if parcel is not None and parcel.status == action:
            return False
        if action == "sent":
            if parcel is not None:
                raise InvalidState(f"waybill {waybill} was already {parcel.status}")
            to = sent_to or (next(iter(self.parts)) if self.direction == "outbound" else self.origin_region)
            if to not in self.parts and to != self.origin_region:
                raise DomainError(f"{to} has no part in {self.reference}", field="sent_to")
            parcel = Custody(waybill, carrier, "sent", to, now)
            self.custody.append(parcel)
        elif parcel is None:
            raise InvalidState(f"waybill {waybill} was never sent")
        elif action == "received" and parcel.status != "sent":
            raise InvalidState(f"waybill {waybill} is {parcel.status}: it can be received only once sent")
        elif action == "returned" and parcel.status != "received":
            raise InvalidState(f"waybill {waybill} is {parcel.status}: it can be returned only once received")
        parcel.status, parcel.updated_at = action, now
        self._log(now, f"materials_{action}", actor, region, f"waybill {waybill} ({parcel.carrier})")
        return True

    # -- reads ----------------------------------------------------------------------------------
    @property
    def handling_regions(self) -> list[str]:
        return sorted(self.parts)

    @property
    def remote_case_number(self) -> str | None:
        return next((p.remote_case_number for p in self.parts.values() if p.remote_case_number), None)

    # -- internals ------------------------------------------------------------------------------
    def _progressed(self, status: str, region: str, detail: str, remote: str | None) -> None:
        self.record(facts.CrossCaseProgressed(applicant_id=self.applicant_id, matter=self.matter, status=status,
                                              region=region, region_name=self._name(region), detail=detail,
                                              remote_case_number=remote))

    def _name(self, region: str) -> str:
        return self.region_names.get(region, region)

    def _log(self, at: datetime, action: str, actor: str, region: str, detail: str = "") -> None:
        self.timeline.append(TimelineEntry(at, action, actor, region, detail))
