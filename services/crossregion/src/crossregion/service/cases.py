"""Use cases at the window: take an application for other regions (异地代收代办 / 多地联办),
apply online for a matter handled here (全程网办), the custody of physical materials, hand
out the result; reads of a case and its timeline."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal

from crossregion.domain import (
    CrossCase,
    CustodyUpdate,
    ForwardedCase,
    NotAllowed,
    NotFound,
    StatusUpdate,
    new_reference,
)
from crossregion.ports import Repositories
from crossregion.service.common import queue, save
from servicekit.clock import Clock
from servicekit.ports import Tx, UnitOfWork
from servicekit.principal import Principal, Role

DeliverAt = Literal["origin", "handling"]


class Cases:
    def __init__(self, *, uow: UnitOfWork[Repositories], clock: Clock, here: str, here_name: str) -> None:
        self.uow, self.clock, self.here, self.here_name = uow, clock, here, here_name

    def _reference(self, now: datetime) -> str:
        return new_reference(self.here, now, secrets.token_hex(4))

    async def take(self, caller: Principal, *, mode: str, matter: str, handling_regions: list[str],
                   applicant_id: str, applicant_phone: str | None, form: dict[str, Any],
                   deliver_at: DeliverAt) -> CrossCase:
        """Window staff took an application (identity checked, formal review passed here) for a
        matter other regions handle: the case file goes to each of them."""
        if caller.role is not Role.WINDOW_STAFF:
            raise NotAllowed("window staff take applications for other regions")
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> CrossCase:
            handling: dict[str, str] = {}
            for i, code in enumerate(handling_regions):
                region = await tx.repos.regions.find(code)
                if region is None:
                    raise NotFound(f"{code} is not a partner region", field=f"handling_regions.{i}")
                region.check_agreed(matter, mode)
                handling[code] = region.name
            case = CrossCase.take(reference=self._reference(now), here=self.here, mode=mode, matter=matter,
                                  handling=handling, applicant_id=applicant_id, applicant_phone=applicant_phone,
                                  form=form, deliver_at=deliver_at, staff_id=caller.sub, now=now)
            for code in handling:
                await queue(tx, here=self.here, region=code, now=now, body=ForwardedCase(
                    reference=case.reference, matter=case.matter, mode=case.mode, applicant_id=applicant_id,  # type: ignore[arg-type]
                    applicant_phone=applicant_phone, form=form, deliver_at=deliver_at))
            await save(tx, case, now, new=True)
            return case

        return await self.uow.run(work)

    async def apply_online(self, caller: Principal, *, matter: str, form: dict[str, Any],
                           applicant_phone: str | None) -> CrossCase:
        """全程网办: an applicant from elsewhere applies online; the case is handled here as any case."""
        if caller.role is not Role.APPLICANT:
            raise NotAllowed("applicants apply online for themselves")
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> CrossCase:
            case = CrossCase.receive(reference=self._reference(now), here=self.here, here_name=self.here_name,
                                     origin_region=self.here, origin_name=self.here_name, mode="online",
                                     matter=matter, applicant_id=caller.sub, applicant_phone=applicant_phone,
                                     form=form, deliver_at="handling", now=now)
            await save(tx, case, now, new=True)
            return case

        return await self.uow.run(work)

    async def record_custody(self, caller: Principal, reference: str, *, action: Literal["sent", "received", "returned"],
                             waybill: str, carrier: str, sent_to: str | None = None) -> CrossCase:
        """The physical materials moved: recorded in the timeline here, and sent to the other side."""
        if caller.role is not Role.WINDOW_STAFF:
            raise NotAllowed("window staff record the custody of materials")
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> CrossCase:
            case = await tx.repos.cases.get(reference)
            if not case.record_custody(action=action, waybill=waybill, carrier=carrier, actor=caller.sub,
                                       region=self.here, now=now, sent_to=sent_to):
                return case
            others = case.handling_regions if case.direction == "outbound" else [case.origin_region]
            for code in (c for c in others if c != self.here):
                await queue(tx, here=self.here, region=code, now=now, body=CustodyUpdate(
                    reference=reference, action=action, waybill=waybill, carrier=carrier, at=now))
            await save(tx, case, now)
            return case

        return await self.uow.run(work)

    async def hand_out(self, caller: Principal, reference: str) -> CrossCase:
        if caller.role is not Role.WINDOW_STAFF:
            raise NotAllowed("window staff hand out results")
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> CrossCase:
            case = await tx.repos.cases.get(reference)
            if case.status == "handed_out":
                return case
            seq = case.hand_out(staff_id=caller.sub, now=now)
            if seq is not None:  # collected where it was handled: the origin is told
                await queue(tx, here=self.here, region=case.origin_region, now=now, body=StatusUpdate(
                    reference=reference, seq=seq, status="handed_out", at=now, detail="结果已在办理地领取",
                    case_number=case.remote_case_number))
            await save(tx, case, now)
            return case

        return await self.uow.run(work)

    async def get(self, caller: Principal, reference: str) -> CrossCase:
        """Staff read any case; applicants only their own (404 otherwise)."""
        case = await self.uow.read(lambda repos: repos.cases.get(reference))
        if not caller.is_staff and case.applicant_id != caller.sub:
            raise NotFound(f"no case {reference}")
        return case
