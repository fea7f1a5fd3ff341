"""One stage application (a case): its state machine and rules. Pure: no I/O.

    declared ⇄ incomplete → accepted (clock runs) → completed | rejected

Front desk, back office, one window: the window accepts the stage once everything its items
need is there (or lists everything missing at once); its items go to their departments in
parallel (an item waits only for the items the catalogue puts before it); each department
approves, returns or rejects its own item; the stage completes when every blocking item is
approved, and its documents are numbered and issued together. A returned item goes back to
the applicant for only its fields and materials; only the departments that did not approve
it review it again. A joint acceptance is one item of several departments: every one must
pass, and one certificate is issued."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from approvals.domain import events as facts
from approvals.domain.catalogue import FieldDef, ItemDef
from approvals.domain.errors import DomainError, InvalidState, NotFound, NotYourDepartment, StaleDecision
from approvals.domain.forms import check_fields
from contracts.events.approvals import IssuedDocument, Stage
from contracts.vocabulary import Channel
from servicekit.aggregate import Aggregate
from servicekit.clock import CN_TZ


class StageStatus(StrEnum):
    DECLARED = "declared"
    INCOMPLETE = "incomplete"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    REJECTED = "rejected"


class ItemStatus(StrEnum):
    WAITING = "waiting"  # not requested yet: waits for the items before it (or the window)
    REQUESTED = "requested"
    RETURNED = "returned"
    APPROVED = "approved"
    REJECTED = "rejected"


OPEN = (StageStatus.DECLARED, StageStatus.INCOMPLETE, StageStatus.ACCEPTED)


@dataclass
class Review:
    """One department's part of an item."""

    attempt: int = 0  # the attempt it was last asked
    decision: str | None = None  # its answer to that attempt (None: not answered yet)
    reasons: list[dict[str, str]] = field(default_factory=list)
    reason: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    reviewer: str | None = None
    count: int = 0  # how many times it reviewed the item (answers recorded)


@dataclass
class ItemState:
    definition: ItemDef
    status: ItemStatus = ItemStatus.WAITING
    attempt: int = 0
    reviews: dict[str, Review] = field(default_factory=dict)
    reasons: list[dict[str, str]] = field(default_factory=list)  # of the last return
    requested_at: datetime | None = None
    decided_at: datetime | None = None
    due_at: datetime | None = None
    document: dict[str, str] | None = None
    overdue: bool = False

    @property
    def code(self) -> str:
        return self.definition.code

    def parts(self) -> set[str]:
        """What the item may return: ``form.<field>`` and ``materials.<material>``."""
        return {f"form.{f}" for f in self.definition.fields} | {f"materials.{m}" for m in self.definition.materials}


@dataclass
class HistoryEntry:
    at: datetime
    action: str
    actor: str
    detail: str = ""


def local_day(at: datetime) -> Any:
    return at.astimezone(CN_TZ).date()


@dataclass(kw_only=True)
class StageCase(Aggregate):
    case_number: str
    project_code: str
    project_name: str
    project_type: str
    stage: Stage
    catalogue_version: str
    time_limit_days: int
    applicant_id: str
    channel: Channel
    declared_at: datetime
    items: dict[str, ItemState]
    field_defs: dict[str, FieldDef]
    material_labels: dict[str, str]
    form: dict[str, Any] = field(default_factory=dict)
    materials: dict[str, str] = field(default_factory=dict)  # name → sha256
    status: StageStatus = StageStatus.DECLARED
    accepted_at: datetime | None = None
    due_at: datetime | None = None
    closed_at: datetime | None = None
    same_day: bool | None = None
    staff_id: str | None = None
    helper_id: str | None = None
    missing: list[dict[str, str]] = field(default_factory=list)
    documents: list[dict[str, str]] = field(default_factory=list)
    warned: bool = False
    overdue: bool = False
    correlation_id: str = ""
    history: list[HistoryEntry] = field(default_factory=list)

    # -- declaration (一张表单) ----------------------------------------------------------------
    @classmethod
    def declare(cls, *, case_number: str, project_code: str, project_name: str, project_type: str, stage: Stage,
                catalogue_version: str, time_limit_days: int, items: Sequence[ItemDef],
                field_defs: Mapping[str, FieldDef], material_labels: Mapping[str, str], applicant_id: str,
                channel: Channel, now: datetime, form: Mapping[str, Any], known: Mapping[str, Any]) -> StageCase:
        """A stage's merged form: its items' fields, from what the applicant gives now and what
        the project gave before (``known``: asked once). A bad value is refused, named."""
        needed = {f for i in items for f in i.fields}
        defs = {f: field_defs[f] for f in sorted(needed)}
        values, errors = check_fields(form, defs)
        if errors:
            raise DomainError("the form has invalid fields", errors)
        merged = {k: v for k, v in known.items() if k in needed} | values
        case = cls(case_number=case_number, project_code=project_code, project_name=project_name,
                   project_type=project_type, stage=stage, catalogue_version=catalogue_version,
                   time_limit_days=time_limit_days, applicant_id=applicant_id, channel=channel, declared_at=now,
                   items={i.code: ItemState(i) for i in items}, field_defs=defs,
                   material_labels={m: material_labels[m] for i in items for m in i.materials},
                   form=merged, correlation_id=case_number)
        case._log(now, "declared", applicant_id, f"via {channel}, catalogue {catalogue_version}")
        case.record(facts.StageDeclared(**case._about(), applicant_id=applicant_id, channel=channel,
                                        items=list(case.items)))
        return case

    def needed_materials(self) -> list[str]:
        return sorted({m for i in self.items.values() for m in i.definition.materials})

    def missing_parts(self, materials: Mapping[str, str]) -> list[dict[str, str]]:
        """Everything the stage still lacks, for every item at once (一次性告知), named."""
        missing = [{"field": f"form.{f}", "reason": f"缺少{d.label}"} for f, d in self.field_defs.items()
                   if f not in self.form]
        return missing + [{"field": f"materials.{m}", "reason": f"缺少{self.material_labels[m]}"}
                          for m in self.needed_materials() if m not in materials]

    def supplement(self, *, form: Mapping[str, Any], now: datetime, by: str) -> bool:
        """Add fields before acceptance; the stage goes back to the window."""
        self._require(StageStatus.DECLARED, StageStatus.INCOMPLETE)
        values, errors = check_fields(form, self.field_defs)
        if errors:
            raise DomainError("the form has invalid fields", errors)
        if not values and self.status is StageStatus.DECLARED:
            return False
        self.form.update(values)
        self.status = StageStatus.DECLARED
        self._log(now, "supplemented", by, ", ".join(sorted(values)))
        return True

    # -- the window (前台综合受理) --------------------------------------------------------------
    def check_at_window(self, *, staff_id: str, now: datetime, materials: Mapping[str, str], due_at: datetime,
                        item_due: Mapping[int, datetime]) -> bool:
        """Accept, or list everything missing at once. ``materials``: the project's (name →
        sha256); ``item_due``: the end of n working days from now, by n. The same check
        again by the same staff member changes nothing: False."""
        missing = self.missing_parts(materials)
        if self.staff_id == staff_id and ((self.accepted_at is not None and not missing) or
                                          (self.status is StageStatus.INCOMPLETE and self.missing == missing)):
            return False
        self._require(StageStatus.DECLARED, StageStatus.INCOMPLETE)
        self.staff_id = staff_id
        if missing:
            self.status, self.missing = StageStatus.INCOMPLETE, missing
            self._log(now, "incomplete", staff_id, "; ".join(m["reason"] for m in missing))
            self.record(facts.StageIncomplete(**self._about(), applicant_id=self.applicant_id, missing=missing,
                                              staff_id=staff_id))
            return True
        self.materials = {m: materials[m] for m in self.needed_materials()}
        self.status, self.missing, self.accepted_at, self.due_at = StageStatus.ACCEPTED, [], now, due_at
        for item in self.items.values():
            item.due_at = min(due_at, item_due[item.definition.time_limit_days])
        self._log(now, "accepted", staff_id, f"due {due_at.isoformat()}")
        self.record(facts.StageAccepted(**self._about(), applicant_id=self.applicant_id, project_name=self.project_name,
                                        channel=self.channel, accepted_at=now, due_at=due_at, staff_id=staff_id,
                                        items=list(self.items)))
        self._request_ready(now)
        if not any(i.definition.blocking for i in self.items.values()):
            self._complete(now)
        return True

    # -- departments (后台分类审批) -------------------------------------------------------------
    def decide(self, *, item: str, department: str | None, attempt: int, decision: str, now: datetime,
               reviewer: str, reasons: Sequence[Mapping[str, str]] = (), reason: str | None = None,
               result: Mapping[str, Any] | None = None) -> bool:
        """Record one department's answer to its item. The answer already recorded, again
        (a retry, a duplicate), changes nothing: False; another answer to an attempt no
        longer awaiting one is stale."""
        state = self.items.get(item)
        if state is None:
            raise NotFound(f"stage {self.case_number} has no item {item!r}",
                           [{"field": "item", "message": f"not an item of this stage (one of: {', '.join(self.items)})"}])
        if department not in state.reviews and department not in state.definition.departments:
            raise NotYourDepartment(f"item {item} belongs to {', '.join(state.definition.departments)}, not {department}",
                                    [{"field": "department", "message": f"{department} does not decide {item}"}])
        assert department is not None
        review = state.reviews.get(department)
        if review is not None and review.attempt == attempt and review.decision == decision and \
                review.reasons == [dict(r) for r in reasons] and (decision != "rejected" or review.reason == reason):
            return False
        if self.status is not StageStatus.ACCEPTED and not (self.status is StageStatus.COMPLETED and
                                                            not state.definition.blocking):
            raise InvalidState(f"stage {self.case_number} is {self.status.value}")
        if state.status is not ItemStatus.REQUESTED or review is None or review.attempt != attempt or \
                review.decision is not None:
            raise StaleDecision(f"{item} ({department}) attempt {attempt} is not awaiting a decision")
        if decision == "returned":
            self._check_reasons(state, reasons)
        elif decision not in ("approved", "rejected"):
            raise DomainError(f"unknown decision {decision!r}", [{"field": "decision", "message": "approved, returned or rejected"}])
        review.decision, review.reasons, review.reason = decision, [dict(r) for r in reasons], reason
        review.result, review.reviewer, review.count = dict(result or {}), reviewer, review.count + 1
        state.decided_at = now
        self._log(now, f"{item}_{decision}_by_{department}", reviewer,
                  "; ".join(f"{r['field']}: {r['reason']}" for r in reasons) or (reason or ""))
        if all(r.decision is not None for r in state.reviews.values()):
            self._settle(state, now)
        return True

    def _check_reasons(self, state: ItemState, reasons: Sequence[Mapping[str, str]]) -> None:
        if not reasons:
            raise DomainError("a returned item must name what to correct",
                              [{"field": "reasons", "message": "name at least one field or material"}])
        own = state.parts()
        errors = [{"field": f"reasons.{i}.field",
                   "message": f"{r['field']!r} is not part of item {state.code} (one of: {', '.join(sorted(own))})"}
                  for i, r in enumerate(reasons) if r["field"] not in own]
        if errors:
            raise NotYourDepartment(f"item {state.code} may return only its own fields and materials", errors)

    def _settle(self, state: ItemState, now: datetime) -> None:
        """Every department asked has answered this attempt."""
        decisions = {d: r.decision for d, r in state.reviews.items()}
        rejected = [d for d, x in decisions.items() if x == "rejected"]
        if rejected:
            state.status = ItemStatus.REJECTED
            if state.definition.blocking:
                self.status, self.closed_at = StageStatus.REJECTED, now
                self._log(now, "rejected", "system", f"{state.code} rejected by {rejected[0]}")
                self.record(facts.StageRejected(**self._about(), applicant_id=self.applicant_id, item=state.code,
                                                department=rejected[0],
                                                reason=state.reviews[rejected[0]].reason or "rejected"))
            return
        returned = [d for d, x in decisions.items() if x == "returned"]
        if returned:
            state.status = ItemStatus.RETURNED
            state.reasons = [r for d in returned for r in state.reviews[d].reasons]
            self._log(now, f"{state.code}_returned", "system", f"attempt {state.attempt}")
            self.record(facts.ItemReturned(**self._about(), applicant_id=self.applicant_id, item=state.code,
                                           item_name=state.definition.name, departments=returned,
                                           attempt=state.attempt, reasons=state.reasons))
            return
        state.status, state.reasons = ItemStatus.APPROVED, []
        self._log(now, f"{state.code}_approved", "system", f"attempt {state.attempt}")
        self.record(facts.ItemApproved(**self._about(), applicant_id=self.applicant_id, item=state.code,
                                       kind=state.definition.kind, departments=list(state.reviews),
                                       attempt=state.attempt))
        if state.definition.kind == "joint_acceptance":
            self.record(facts.JointAcceptancePassed(applicant_id=self.applicant_id, project_code=self.project_code,
                                                    catalogue_version=self.catalogue_version,
                                                    departments=list(state.reviews),
                                                    inspections=sum(r.count for r in state.reviews.values())))
        if self.status is StageStatus.COMPLETED:  # a non-blocking hookup after the stage: its document now
            self.documents.append(self._issue(state, len(self.documents) + 1))
            return
        self._request_ready(now)
        if all(i.status is ItemStatus.APPROVED for i in self.items.values() if i.definition.blocking):
            self._complete(now)

    def _complete(self, now: datetime) -> None:
        if self.accepted_at is None or self.due_at is None:
            raise InvalidState(f"stage {self.case_number} was never accepted")
        approved = [i for i in self.items.values() if i.status is ItemStatus.APPROVED]
        self.documents = [self._issue(i, n) for n, i in enumerate(approved, start=1)]
        self.status, self.closed_at = StageStatus.COMPLETED, now
        self.same_day = local_day(now) == local_day(self.accepted_at)
        self._log(now, "completed", "system", "documents issued together at the window: " +
                  ", ".join(d["number"] for d in self.documents))
        self.record(facts.StageCompleted(
            applicant_id=self.applicant_id, project_code=self.project_code, project_name=self.project_name,
            stage=self.stage, catalogue_version=self.catalogue_version, channel=self.channel, staff_id=self.staff_id,
            departments=sorted({d for i in approved for d in i.reviews}), accepted_at=self.accepted_at,
            completed_at=now, within_time_limit=now < self.due_at, same_day=self.same_day,
            documents=self.issued()))

    def _issue(self, item: ItemState, n: int) -> dict[str, str]:
        """The item's document, numbered: ``<prefix>-<case number>-<n>`` (unique: case numbers are)."""
        d = item.definition
        item.document = {"item": d.code, "kind": d.document or d.code, "department": d.departments[0],
                         "number": f"{d.document_prefix or 'DOC'}-{self.case_number}-{n:02d}"}
        return item.document

    def issued(self) -> list[IssuedDocument]:
        return [IssuedDocument(**d) for d in self.documents]

    # -- corrections (补正) ----------------------------------------------------------------------
    def correct(self, *, item: str, form: Mapping[str, Any], materials: Mapping[str, str], now: datetime,
                by: str) -> bool:
        """Fix exactly what the item's departments returned (fields given, materials as the
        project now has them: new bytes), and ask only that item again, only of the
        departments that did not approve it. The same correction again (applied): False."""
        state = self.items.get(item)
        if state is None:
            raise NotFound(f"stage {self.case_number} has no item {item!r}",
                           [{"field": "item", "message": "not an item of this stage"}])
        given = {f"form.{k}" for k in form} | {f"materials.{k}" for k in materials}
        if state.status is not ItemStatus.RETURNED:
            applied = all(self.form.get(k) == v for k, v in check_fields(form, self.field_defs)[0].items()) and \
                all(self.materials.get(k) == v for k, v in materials.items())
            if applied and state.status is ItemStatus.REQUESTED and given:
                return False
            raise InvalidState(f"{item} is not returned for correction")
        self._require(StageStatus.ACCEPTED)
        asked = {r["field"] for r in state.reasons}
        errors = [{"field": f, "message": "not asked for by the department"} for f in sorted(given - asked)]
        errors += [{"field": f, "message": "asked for by the department but not corrected"} for f in sorted(asked - given)]
        errors += [{"field": f"materials.{m}", "message": "the same bytes as the returned material: upload the corrected one"}
                   for m, h in materials.items() if self.materials.get(m) == h]
        values, bad = check_fields(form, self.field_defs)
        errors += bad
        if errors:
            raise DomainError("correct exactly what the department returned", errors)
        self.form.update(values)
        self.materials.update(materials)
        self._log(now, f"{item}_corrected", by, ", ".join(sorted(given)))
        self._request(state, now)
        return True

    # -- supervision ----------------------------------------------------------------------------
    def assign_helper(self, *, helper_id: str, by: str, now: datetime) -> bool:
        if self.helper_id == helper_id:
            return False
        if self.status not in OPEN:
            raise InvalidState("the stage is closed")
        self.helper_id = helper_id
        self._log(now, "helper_assigned", by, helper_id)
        return True

    def warn(self, now: datetime) -> bool:
        if self.status is not StageStatus.ACCEPTED or self.warned or self.due_at is None:
            return False
        self.warned = True
        self._log(now, "deadline_warning", "system")
        self.record(facts.StageDeadlineWarning(**self._about(), due_at=self.due_at, pending_items=self.pending_items(),
                                               helper_id=self.helper_id))
        return True

    def mark_overdue(self, now: datetime) -> bool:
        if self.status is not StageStatus.ACCEPTED or self.overdue or self.due_at is None:
            return False
        self.overdue = True
        self._log(now, "overdue", "system")
        self.record(facts.StageOverdue(**self._about(), due_at=self.due_at, pending_items=self.pending_items(),
                                       helper_id=self.helper_id))
        return True

    def item_deadlines(self) -> list[datetime]:
        """The distinct time limits of the items that end before the stage's own (one timer each)."""
        due = self._due()
        return sorted({i.due_at for i in self.items.values() if i.due_at is not None and i.due_at < due})

    def mark_items_overdue(self, now: datetime) -> list[str]:
        """Items past their own time limit while departments still have them; each once."""
        if self.status is not StageStatus.ACCEPTED:
            return []
        late = [i for i in self.items.values() if i.status is ItemStatus.REQUESTED and not i.overdue
                and i.due_at is not None and i.due_at <= now]
        for item in late:
            item.overdue = True
            self._log(now, f"{item.code}_overdue", "system")
            self.record(facts.ItemOverdue(**self._about(), item=item.code, item_name=item.definition.name,
                                          departments=[d for d, r in item.reviews.items() if r.decision is None],
                                          attempt=item.attempt, due_at=item.due_at or now, helper_id=self.helper_id))
        return [i.code for i in late]

    def pending_items(self) -> list[str]:
        return [c for c, i in self.items.items() if i.definition.blocking and i.status is not ItemStatus.APPROVED]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    # -- internals ------------------------------------------------------------------------------
    def _request_ready(self, now: datetime) -> None:
        """Request every waiting item whose items before it are approved."""
        for state in self.items.values():
            if state.status is ItemStatus.WAITING and all(
                    self.items[a].status is ItemStatus.APPROVED for a in state.definition.after if a in self.items):
                self._request(state, now)

    def _request(self, state: ItemState, now: datetime) -> None:
        state.status, state.attempt, state.requested_at, state.reasons = ItemStatus.REQUESTED, state.attempt + 1, now, []
        for dept in state.definition.departments:
            review = state.reviews.setdefault(dept, Review())
            if review.decision == "approved":
                continue  # its approval stands: it is not asked again
            review.attempt, review.decision, review.reasons, review.reason = state.attempt, None, [], None
            self.record(self._item_requested(state, dept))
        self._log(now, f"{state.code}_requested", "system", f"attempt {state.attempt}")

    def _item_requested(self, state: ItemState, department: str) -> facts.ItemRequested:
        d = state.definition
        return facts.ItemRequested(**self._about(), item=d.code, item_name=d.name, kind=d.kind, department=department,
                                   attempt=state.attempt, due_at=state.due_at or self._due(),
                                   form={f: self.form[f] for f in d.fields if f in self.form},
                                   materials={m: self.materials[m] for m in d.materials if m in self.materials})

    def _about(self) -> dict[str, Any]:
        return {"project_code": self.project_code, "stage": self.stage, "catalogue_version": self.catalogue_version}

    def _require(self, *allowed: StageStatus) -> None:
        if self.status not in allowed:
            raise InvalidState(f"stage {self.case_number} is {self.status.value}")

    def _log(self, at: datetime, action: str, actor: str, detail: str = "") -> None:
        self.history.append(HistoryEntry(at, action, actor, detail))

    def _due(self) -> datetime:
        if self.due_at is None:
            raise InvalidState(f"stage {self.case_number} is not accepted")
        return self.due_at
