"""Use cases: load → domain → save + events, in one transaction each. Who may do what is
decided here, not in the handlers."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from approvals.domain import (
    STAGES,
    AlreadyExists,
    Catalogue,
    DomainError,
    MaterialMismatch,
    NotFound,
    NotYourDepartment,
    Project,
    ProjectForm,
    StageCase,
    StageStatus,
)
from approvals.domain import events as facts
from approvals.ports import Calendar, DueTimer, Repositories
from contracts import Event
from contracts.events import approvals as ev
from contracts.events.approvals import Stage
from contracts.vocabulary import Channel
from servicekit.clock import Clock
from servicekit.events import EventMap
from servicekit.ports import Tx, UnitOfWork
from servicekit.principal import Principal, Role

CONSUMER = "approvals"
WARNING, OVERDUE, ITEMS_DUE = "stage_deadline_warning", "stage_overdue", "items_due"  # timer kinds
View = Literal["at_risk", "overdue"]

EVENTS = EventMap("/one-window/approvals", {
    facts.ProjectRegistered: ev.ProjectRegisteredV1,
    facts.ProjectCompleted: ev.ProjectCompletedV1,
    facts.StageDeclared: ev.StageDeclaredV1,
    facts.StageIncomplete: ev.StageIncompleteV1,
    facts.StageAccepted: ev.StageAcceptedV1,
    facts.ItemRequested: ev.ItemRequestedV1,
    facts.ItemApproved: ev.ItemApprovedV1,
    facts.ItemReturned: ev.ItemReturnedV1,
    facts.StageRejected: ev.StageRejectedV1,
    facts.JointAcceptancePassed: ev.JointAcceptancePassedV1,
    facts.StageCompleted: ev.StageCompletedV1,
    facts.StageDeadlineWarning: ev.StageDeadlineWarningV1,
    facts.StageOverdue: ev.StageOverdueV1,
    facts.ItemOverdue: ev.ItemOverdueV1,
})


class TimelineEntry(NamedTuple):
    at: datetime
    case_number: str | None  # None: the project itself
    stage: str | None
    action: str
    actor: str
    detail: str


def new_case_number(now: datetime) -> str:
    return f"GC{now:%Y%m%d}{secrets.token_hex(4).upper()}"


def _stage_events(stage: StageCase, now: datetime, cause: Event | None = None) -> list[Event]:
    return EVENTS.to_events(stage.pull_events(), subject=stage.case_number, now=now,
                            correlation_id=stage.correlation_id, cause=cause)


def _project_events(project: Project, now: datetime, cause: Event | None = None) -> list[Event]:
    return EVENTS.to_events(project.pull_events(), subject=project.code, now=now, correlation_id=project.code,
                            cause=cause)


def _timer_keys(case: StageCase) -> list[str]:
    """The stage's deadline timers: its warning, its overdue, one per distinct item time limit before its own."""
    return [f"{case.case_number}:warning", f"{case.case_number}:overdue",
            *(f"{case.case_number}:items:{n}" for n in range(len(case.item_deadlines())))]


class Approvals:
    def __init__(self, *, uow: UnitOfWork[Repositories], catalogue: Catalogue, calendar: Calendar, clock: Clock,
                 warning_before: timedelta = timedelta(hours=8), at_risk_within: timedelta = timedelta(hours=24)) -> None:
        self.uow, self.catalogue, self.calendar, self.clock = uow, catalogue, calendar, clock
        self.warning_before, self.at_risk_within = warning_before, at_risk_within

    # -- projects ----------------------------------------------------------------------------
    async def register_project(self, caller: Principal, form: ProjectForm, *, applicant_id: str | None = None,
                               applicant_phone: str | None = None) -> Project:
        applicant = _applicant(caller, applicant_id)
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> Project:
            project = Project.register(form=form, applicant_id=applicant, now=now, applicant_phone=applicant_phone)
            await tx.repos.projects.add(project)
            tx.emit(_project_events(project, now))
            return project

        try:
            return await self.uow.run(work)
        except AlreadyExists:
            earlier = await self.uow.read(lambda repos: repos.projects.get(form.project_code))
            if earlier.applicant_id == applicant and earlier.form == form:
                return earlier  # the same registration again
            raise

    async def upload_material(self, caller: Principal, code: str, *, name: str, data: bytes, sha256: str) -> Project:
        """A material's bytes, checked against the hash declared for them, stored once by hash
        and attached to the project (every item and later stage that needs it takes it from there)."""
        if name not in self.catalogue.materials:
            raise DomainError(f"unknown material {name!r}", [{"field": "name", "message": "not a material of the "
                              f"catalogue (one of: {', '.join(sorted(self.catalogue.materials))})", "type": "catalogue"}])
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256.lower():
            raise MaterialMismatch("the material's bytes do not match its sha256",
                                   [{"field": "sha256", "message": f"the bytes sent hash to {actual}", "type": "content_hash"}])
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> Project:
            project = _owned(await tx.repos.projects.get(code), caller)
            await tx.repos.blobs.put(actual, data)
            project.attach_material(name, actual, len(data), now, caller.sub)
            await tx.repos.projects.save(project)
            return project

        return await self.uow.run(work)

    # -- stages: declaration and the window ------------------------------------------------------
    async def declare_stage(self, caller: Principal, code: str, *, stage: Stage, form: Mapping[str, Any],
                            utilities: Sequence[str] = (), channel: Channel = "web") -> StageCase:
        """One merged form for the stage, under the catalogue as it is now (kept by the stage)."""
        known = {u.code for u in self.catalogue.utilities}
        bad = [{"field": f"utilities.{i}", "message": f"unknown utility {u!r} (one of: {', '.join(sorted(known))})",
                "type": "catalogue"}
               for i, u in enumerate(utilities) if u not in known]
        if bad:
            raise DomainError("unknown utility hookup", bad)
        now = self.clock.now()
        cat = self.catalogue
        channel = "window" if caller.role is Role.WINDOW_STAFF else channel

        async def work(tx: Tx[Repositories]) -> StageCase:
            project = _owned(await tx.repos.projects.get(code), caller)
            project.check_can_declare(stage)
            items = cat.items_for(stage, project.form.project_type, list(dict.fromkeys(utilities)))
            case = StageCase.declare(
                case_number=new_case_number(now), project_code=code, project_name=project.form.name,
                project_type=project.form.project_type, stage=stage, catalogue_version=cat.version,
                time_limit_days=cat.stage(stage).time_limit_days, items=items, field_defs=cat.fields,
                material_labels={k: v.label for k, v in cat.materials.items()}, applicant_id=project.applicant_id,
                channel=channel, now=now, form=form, known=project.values)
            project.stage_declared(stage, case.case_number, case.form, now, caller.sub)
            await tx.repos.stages.add(case)
            await tx.repos.projects.save(project)
            tx.emit(_stage_events(case, now))
            return case

        return await self.uow.run(work)

    async def supplement(self, caller: Principal, case_number: str, *, form: Mapping[str, Any]) -> StageCase:
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> StageCase:
            case = _owned(await tx.repos.stages.get(case_number), caller)
            if case.supplement(form=form, now=now, by=caller.sub):
                project = await tx.repos.projects.get(case.project_code)
                project.remember_values(case.form)
                await tx.repos.projects.save(project)
                await _save(tx, case, now)
            return case

        return await self.uow.run(work)

    async def check_at_window(self, caller: Principal, case_number: str) -> StageCase:
        """Accept the stage (its items go to their departments at once), or list everything missing."""
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> StageCase:
            case = await tx.repos.stages.get(case_number)
            project = await tx.repos.projects.get(case.project_code)
            limits = {case.time_limit_days} | {i.definition.time_limit_days for i in case.items.values()}
            dues = {n: self.calendar.deadline(now, n).at for n in limits}
            if not case.check_at_window(staff_id=caller.sub, now=now, materials=project.material_hashes(),
                                        due_at=dues[case.time_limit_days], item_due=dues):
                return case
            if case.status is StageStatus.ACCEPTED and case.due_at is not None:
                warning, overdue, *items = _timer_keys(case)
                payload = {"case_number": case_number}
                await tx.repos.timers.schedule_new([
                    (warning, WARNING, max(now, case.due_at - self.warning_before), payload),
                    (overdue, OVERDUE, case.due_at, payload),
                    *((key, ITEMS_DUE, due, payload) for key, due in zip(items, case.item_deadlines(), strict=True))])
            await self._save_with_project(tx, case, project, now)
            return case

        return await self.uow.run(work)

    # -- departments ------------------------------------------------------------------------------
    async def decide(self, caller: Principal, case_number: str, item: str, *, decision: str, attempt: int | None = None,
                     reasons: Sequence[Mapping[str, str]] = (), reason: str | None = None,
                     result: Mapping[str, Any] | None = None) -> StageCase:
        """A reviewer decides its department's item; window staff decide items authorised to the hall (集中授权)."""
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> StageCase:
            case = await tx.repos.stages.get(case_number)
            state = case.items.get(item)
            if state is None:
                raise NotFound(f"no item {item}", [{"field": "item", "message": "not an item of this stage"}])
            department = caller.department
            if caller.role is Role.WINDOW_STAFF:
                if not state.definition.hall:
                    raise NotYourDepartment(f"item {item} is not authorised to the hall",
                                            [{"field": "item", "message": "only its department decides it"}])
                department = state.definition.departments[0]
            if department is None:
                raise NotYourDepartment("no department", [{"field": "department", "message": "the token names none"}])
            current = state.reviews[department].attempt if department in state.reviews else 0
            if not case.decide(item=item, department=department, attempt=attempt or current, decision=decision,
                               now=now, reviewer=caller.sub, reasons=reasons, reason=reason, result=result):
                return case
            await self._after_decisions(tx, [case], now)
            return case

        return await self.uow.run(work)

    async def decide_many(self, answers: list[ev.ItemDecidedV1]) -> dict[int, str]:
        """Departments' answers (events) of one fetch in ONE transaction; an answer processed
        before has no second effect. Returns ``{index: reason}`` of those refused for good."""
        now = self.clock.now()
        position: dict[str, int] = {}
        for i, e in enumerate(answers):
            position.setdefault(e.event_id, i)

        async def work(tx: Tx[Repositories], fresh: list[ev.ItemDecidedV1]) -> dict[int, str]:
            refused: dict[int, str] = {}
            if not fresh:
                return refused
            cases = await tx.repos.stages.get_many(list({e.case_number for e in fresh}))
            touched: dict[str, StageCase] = {}
            causes: dict[str, Event] = {}
            for e in fresh:
                case = cases.get(e.case_number)
                try:
                    if case is None:
                        raise NotFound(f"no stage {e.case_number}")
                    changed = case.decide(item=e.item, department=e.department, attempt=e.attempt, decision=e.decision,
                                          now=now, reviewer=e.reviewer_id, reasons=[r.model_dump() for r in e.reasons],
                                          reason=e.reason, result=e.result)
                except DomainError as exc:
                    refused[position[e.event_id]] = f"{type(exc).__name__}: {exc}"
                    continue
                if changed:
                    touched[case.case_number] = case
                    causes[case.case_number] = e
            if touched:
                await self._after_decisions(tx, list(touched.values()), now, causes)
            return refused

        return await self.uow.consume(CONSUMER, answers, work)

    async def _after_decisions(self, tx: Tx[Repositories], cases: list[StageCase], now: datetime,
                               causes: Mapping[str, Event] | None = None) -> None:
        """Save the stages (one bulk write), their events, and the projects of those that closed."""
        events: list[Event] = []
        closed: list[str] = []
        for case in cases:
            cause = (causes or {}).get(case.case_number)
            facts_ = case.pull_events()
            events += EVENTS.to_events(facts_, subject=case.case_number, now=now, correlation_id=case.correlation_id,
                                       cause=cause)
            finished = [f for f in facts_ if isinstance(f, facts.StageCompleted | facts.StageRejected)]
            late = [f for f in facts_ if isinstance(f, facts.ItemApproved)] if case.status is StageStatus.COMPLETED else []
            if finished or late:
                project = await tx.repos.projects.get(case.project_code)
                if any(isinstance(f, facts.StageCompleted) for f in finished):
                    project.stage_completed(case.stage, case.issued(), now)
                elif finished:
                    project.stage_changed(case.stage, case.status.value)
                else:
                    for d in case.issued():
                        if d.number not in {x["number"] for x in project.documents}:
                            project.document_issued_late(d)
                await tx.repos.projects.save(project)
                events += _project_events(project, now, cause)
                if finished:
                    closed += _timer_keys(case)
        if closed:
            await tx.repos.timers.cancel_many(closed)
        await tx.repos.stages.save_many(cases)
        tx.emit(events)

    # -- corrections --------------------------------------------------------------------------------
    async def correct(self, caller: Principal, case_number: str, item: str, *, form: Mapping[str, Any],
                      materials: Sequence[str]) -> StageCase:
        """Correct exactly what the item's departments returned: fields given here, materials as
        the project now has them (upload the corrected bytes first). Only that item is asked again."""
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> StageCase:
            case = _owned(await tx.repos.stages.get(case_number), caller)
            project = await tx.repos.projects.get(case.project_code)
            hashes = project.material_hashes()
            unknown = [{"field": f"materials.{i}", "message": f"{m!r} is not uploaded to the project"}
                       for i, m in enumerate(materials) if m not in hashes]
            if unknown:
                raise DomainError("upload the corrected materials first", unknown)
            if case.correct(item=item, form=form, materials={m: hashes[m] for m in materials}, now=now, by=caller.sub):
                project.remember_values({k: case.form[k] for k in form if k in case.form})
                await self._save_with_project(tx, case, project, now)
            return case

        return await self.uow.run(work)

    # -- supervision -------------------------------------------------------------------------------
    async def assign_helper(self, caller: Principal, case_number: str, *, helper_id: str) -> StageCase:
        now = self.clock.now()

        async def work(tx: Tx[Repositories]) -> StageCase:
            case = await tx.repos.stages.get(case_number)
            if case.assign_helper(helper_id=helper_id, by=caller.sub, now=now):
                await _save(tx, case, now)
            return case

        return await self.uow.run(work)

    async def on_timer(self, tx: Tx[Repositories], timer: DueTimer) -> None:
        now = self.clock.now()
        try:
            case = await tx.repos.stages.get(timer.payload["case_number"])
        except NotFound:
            return
        if timer.kind == ITEMS_DUE:
            changed = bool(case.mark_items_overdue(now))
        else:
            changed = case.warn(now) if timer.kind == WARNING else case.mark_overdue(now)
        if changed:
            await _save(tx, case, now)

    # -- reads ----------------------------------------------------------------------------------------
    async def get_project(self, caller: Principal, code: str) -> Project:
        return await self.uow.read(lambda repos: _owned_project(repos, code, caller))

    async def get_stage(self, caller: Principal, case_number: str) -> StageCase:
        async def read(repos: Repositories) -> StageCase:
            return _owned(await repos.stages.get(case_number), caller)

        return await self.uow.read(read)

    async def project_stages(self, caller: Principal, code: str) -> tuple[Project, list[StageCase]]:
        async def read(repos: Repositories) -> tuple[Project, list[StageCase]]:
            project = await _owned_project(repos, code, caller)
            return project, await repos.stages.of_project(code)

        return await self.uow.read(read)

    async def timeline(self, caller: Principal, code: str) -> list[TimelineEntry]:
        """Everything that happened to a project and its stages, oldest first."""
        project, stages = await self.project_stages(caller, code)
        entries = [TimelineEntry(h.at, None, None, h.action, h.actor, h.detail) for h in project.history]
        entries += [TimelineEntry(h.at, s.case_number, s.stage, h.action, h.actor, h.detail)
                    for s in stages for h in s.history]
        return sorted(entries, key=lambda e: e.at)

    async def stages_at_risk(self, view: View, limit: int = 200) -> list[StageCase]:
        now = self.clock.now()
        horizon = now if view == "overdue" else now + self.at_risk_within

        async def read(repos: Repositories) -> list[StageCase]:
            cases = await repos.stages.open_due_before(horizon, limit)
            return cases if view == "overdue" else [c for c in cases if c.due_at and c.due_at > now]

        return await self.uow.read(read)

    async def statistics(self) -> list[dict[str, Any]]:
        """Per stage: how many completed, how many the same working day, and the share (当日办结率)."""
        rows = {r["stage"]: r for r in await self.uow.read(lambda repos: repos.stages.statistics())}
        out = []
        for stage in STAGES:
            r = rows.get(stage, {})
            done, same = int(r.get("completed", 0)), int(r.get("same_day", 0))
            out.append({"stage": stage, "completed": done, "same_day": same,
                        "same_day_share": round(same / done, 4) if done else None})
        return out

    async def _save_with_project(self, tx: Tx[Repositories], case: StageCase, project: Project, now: datetime) -> None:
        project.stage_changed(case.stage, case.status.value)
        if case.status is StageStatus.COMPLETED:  # accepted with no blocking item: completes at once
            project.stage_completed(case.stage, case.issued(), now)
        await tx.repos.projects.save(project)
        tx.emit(_project_events(project, now))
        await _save(tx, case, now)


async def _save(tx: Tx[Repositories], case: StageCase, now: datetime) -> None:
    await tx.repos.stages.save(case)
    tx.emit(_stage_events(case, now))


def _applicant(caller: Principal, applicant_id: str | None) -> str:
    if caller.is_staff:
        if not applicant_id:
            raise DomainError("window staff must name the applicant",
                              [{"field": "applicant_id", "message": "required when staff act for an applicant", "type": "role_rule"}])
        return applicant_id
    return caller.sub


def _owned(thing: Any, caller: Principal) -> Any:
    """Staff see every project and stage; applicants only their own."""
    if not caller.is_staff and thing.applicant_id != caller.sub:
        raise NotFound("not found")
    return thing


async def _owned_project(repos: Repositories, code: str, caller: Principal) -> Project:
    project: Project = _owned(await repos.projects.get(code), caller)
    return project


__all__ = ["CONSUMER", "EVENTS", "Approvals", "TimelineEntry", "View"]
