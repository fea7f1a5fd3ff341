"""Use cases of the ledger (差评台账) and of consultations, suggestions and complaints."""

from __future__ import annotations

from datetime import datetime, timedelta

from ratings.domain import (
    FEEDBACK_WORKDAYS,
    Forbidden,
    LedgerEntry,
    NotFound,
    Request,
    RequestKind,
    month_of,
)
from ratings.ports import Calendar, DueTimer, Repositories
from ratings.service.common import events_of, new_id, supervising
from servicekit.clock import Clock
from servicekit.ports import Tx, UnitOfWork
from servicekit.principal import Principal, Role

WARNING, OVERDUE = "rectification_warning", "rectification_overdue"  # timer kinds


class Ledger:
    def __init__(self, *, uow: UnitOfWork[Repositories], clock: Clock, calendar: Calendar,
                 warning_before: timedelta, request_workdays: int, default_owner: str,
                 callback_workdays: int = 1) -> None:
        self.uow, self.clock, self.calendar = uow, clock, calendar
        self.warning_before, self.request_workdays = warning_before, request_workdays
        self.default_owner, self.callback_workdays = default_owner, callback_workdays

    async def _change(self, caller: Principal, entry_id: str, change: str, **kw: object) -> LedgerEntry:
        if not caller.is_staff:
            raise Forbidden("ledger entries are the staff's")
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> LedgerEntry:
            entry = await tx.repos.ledger.get(entry_id)
            changed = await self._apply(tx, entry, change, caller, now, kw)
            if changed:
                await tx.repos.ledger.save(entry)
                tx.emit(events_of(entry, entry.case_number, now, entry.correlation_id))
            return entry

        return await self.uow.run(work)

    async def _apply(self, tx: Tx[Repositories], entry: LedgerEntry, change: str, caller: Principal, now: datetime,
                     kw: dict[str, object]) -> bool:
        sup = supervising(caller)
        if change == "callback":
            due = self.calendar.add_workdays(now, FEEDBACK_WORKDAYS)
            changed = entry.callback(by=caller.sub, supervisor=sup, outcome=str(kw["outcome"]),
                                     reasonable=bool(kw["reasonable"]), now=now, feedback_due_at=due)
            if changed and entry.feedback_due_at is not None:
                payload = {"entry_id": entry.entry_id}
                await tx.repos.timers.schedule_new([
                    (f"{entry.entry_id}:warning", WARNING, max(now, due - self.warning_before), payload),
                    (f"{entry.entry_id}:overdue", OVERDUE, due, payload)])
            return changed
        if change == "feedback":
            changed = entry.give_feedback(by=caller.sub, supervisor=sup, feedback=str(kw["text"]), now=now)
            if changed:
                await tx.repos.timers.cancel_many([f"{entry.entry_id}:warning", f"{entry.entry_id}:overdue"])
            return changed
        return entry.explain(by=caller.sub, supervisor=sup, explanation=str(kw["text"]), now=now)

    async def callback(self, caller: Principal, entry_id: str, *, outcome: str, reasonable: bool) -> LedgerEntry:
        """The phone callback (电话回访), its outcome, and whether the request is reasonable."""
        return await self._change(caller, entry_id, "callback", outcome=outcome, reasonable=reasonable)

    async def feedback(self, caller: Principal, entry_id: str, *, text: str) -> LedgerEntry:
        """Rectified (立行立改): what was done, sent to the person."""
        return await self._change(caller, entry_id, "feedback", text=text)

    async def explain(self, caller: Principal, entry_id: str, *, text: str) -> LedgerEntry:
        """No legal basis: the explanation, sent to the person."""
        return await self._change(caller, entry_id, "explain", text=text)

    async def on_timer(self, tx: Tx[Repositories], timer: DueTimer) -> None:
        now = self.clock.now()
        entry = await tx.repos.ledger.get(str(timer.payload["entry_id"]))
        if entry.warn() if timer.kind == WARNING else entry.mark_overdue():
            await tx.repos.ledger.save(entry)
            tx.emit(events_of(entry, entry.case_number, now, entry.correlation_id))

    async def get(self, caller: Principal, entry_id: str) -> LedgerEntry:
        if not caller.is_staff:
            raise Forbidden("ledger entries are the staff's")
        return await self.uow.read(lambda repos: repos.ledger.get(entry_id))

    async def find(self, caller: Principal, *, status: str | None, month: str | None, mine: bool,
                   limit: int = 200) -> list[LedgerEntry]:
        owner = caller.sub if mine or (not supervising(caller) and caller.role is not Role.OVERSIGHT) else None
        return await self.uow.read(lambda repos: repos.ledger.find(owner_id=owner, status=status, month=month,
                                                                    limit=limit))

    # -- consultations, suggestions, complaints -----------------------------------------------------------
    async def submit_request(self, caller: Principal, *, kind: RequestKind, department: str, text: str) -> Request:
        """From the app: reaches the department with a time limit; a complaint also opens a ledger entry."""
        if caller.role is not Role.APPLICANT:
            raise Forbidden("people submit consultations, suggestions and complaints from the app")
        now = self.clock.now()
        due = self.calendar.add_workdays(now, self.request_workdays)

        async def work(tx: Tx[Repositories]) -> Request:
            req = Request.submit(request_id=new_id("ZX", now), kind=kind, person_id=caller.sub, department=department,
                                 text=text, now=now, due_at=due)
            await tx.repos.requests.add(req)
            tx.emit(events_of(req, req.request_id, now))
            if kind is RequestKind.COMPLAINT:
                entry = LedgerEntry.open(entry_id=new_id("TS", now), kind="complaint", case_number=req.request_id,
                                         applicant_id=caller.sub, department=department, window_id=None,
                                         owner_id=self.default_owner, now=now,
                                         callback_due_at=self.calendar.add_workdays(now, self.callback_workdays),
                                         month=month_of(now))
                await tx.repos.ledger.add(entry)
                tx.emit(events_of(entry, req.request_id, now))
            return req

        return await self.uow.run(work)

    async def reply(self, caller: Principal, request_id: str, *, text: str) -> Request:
        """The department answers; the reply reaches the person's phone (件件回复直达手机端)."""
        if caller.role not in (Role.REVIEWER, Role.SUPERVISOR, Role.HELPER):
            raise Forbidden("the department concerned replies")
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> Request:
            req = await tx.repos.requests.get(request_id)
            if req.answer(reply=text, by=caller.sub, department=caller.department, supervisor=supervising(caller),
                          now=now):
                await tx.repos.requests.save(req)
                tx.emit(events_of(req, req.request_id, now))
            return req

        return await self.uow.run(work)

    async def get_request(self, caller: Principal, request_id: str) -> Request:
        req = await self.uow.read(lambda repos: repos.requests.get(request_id))
        if not caller.is_staff and req.person_id != caller.sub:
            raise NotFound(f"no request {request_id}")
        return req
