"""Property: whatever order departments answer in (approve, return, reject, duplicates, stale
answers) and whenever the applicant corrects, a stage never completes with a blocking item
not approved, completes at most once, and a department approved once is never asked again."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from approvals.domain import DomainError, ItemStatus, StageStatus
from tests.unit.test_approvals_domain import NOW, accept, new_stage

STAGES = ["initiation_land_use", "engineering_construction", "construction_permit", "completion_acceptance"]


class StageMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.case = None
        self.completions = 0
        self.asked_after_approval = 0

    @rule(stage=st.sampled_from(STAGES), utilities=st.lists(st.sampled_from(["water", "power", "gas"]), unique=True))
    @precondition(lambda self: self.case is None)
    def start(self, stage, utilities):
        self.case = accept(new_stage(stage, utilities=utilities))
        self._drain()

    def _drain(self) -> None:
        for e in self.case.pull_events():
            name = type(e).__name__
            self.completions += name == "StageCompleted"
            if name == "ItemRequested":
                review = self.case.items[e.item].reviews[e.department]
                self.asked_after_approval += review.decision == "approved"

    @rule(data=st.data(), decision=st.sampled_from(["approved", "approved", "approved", "returned", "rejected"]),
          stale=st.booleans())
    @precondition(lambda self: self.case is not None)
    def answer(self, data, decision, stale):
        item = data.draw(st.sampled_from(sorted(self.case.items)))
        state = self.case.items[item]
        dept = data.draw(st.sampled_from(state.definition.departments))
        review = state.reviews.get(dept)
        attempt = (review.attempt if review else 1) - (1 if stale else 0)
        reasons = [{"field": sorted(state.parts())[0], "reason": "请补正"}] if decision == "returned" else []
        try:
            self.case.decide(item=item, department=dept, attempt=max(attempt, 1), decision=decision, now=NOW,
                             reviewer="r", reasons=reasons, reason="不予许可" if decision == "rejected" else None)
        except DomainError:
            pass
        self._drain()

    @rule(data=st.data())
    @precondition(lambda self: self.case is not None)
    def correct(self, data):
        returned = sorted(c for c, i in self.case.items.items() if i.status is ItemStatus.RETURNED)
        if not returned:
            return
        state = self.case.items[data.draw(st.sampled_from(returned))]
        asked = {r["field"] for r in state.reasons}
        form = {f.split(".", 1)[1]: self.case.form.get(f.split(".", 1)[1]) for f in asked if f.startswith("form.")}
        mats = {f.split(".", 1)[1]: f"{len(self.case.history):064x}" for f in asked if f.startswith("materials.")}
        try:
            self.case.correct(item=state.code, form=form, materials=mats, now=NOW + timedelta(minutes=1), by="u-1")
        except DomainError:
            pass
        self._drain()

    @invariant()
    def never_completes_with_an_item_not_approved(self):
        if self.case is None:
            return
        if self.case.status is StageStatus.COMPLETED:
            assert all(i.status is ItemStatus.APPROVED for i in self.case.items.values() if i.definition.blocking)
            assert len(self.case.documents) >= sum(1 for i in self.case.items.values() if i.definition.blocking)
        assert self.completions <= 1
        assert self.asked_after_approval == 0
        for item in self.case.items.values():
            if item.status is ItemStatus.APPROVED:
                assert all(r.decision == "approved" for r in item.reviews.values())


TestStageMachine = StageMachine.TestCase
TestStageMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
