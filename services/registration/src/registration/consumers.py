"""Thin FastStream subscribers: one service call each."""

from __future__ import annotations

from contracts.events.registration import StepDecidedV1
from registration import service
from registration.domain import DomainError, Step
from servicekit.app import ServiceKit
from servicekit.messaging import PermanentFailure


def register(kit: ServiceKit) -> None:
    async def on_step_decided(event: StepDecidedV1) -> None:
        """A department's system answered a step request."""
        try:
            await service.decide(uow=kit.uow, case_number=event.case_number, step=Step(event.step),
                                 attempt=event.attempt, decision=event.decision, reviewer=event.reviewer_id,
                                 now=kit.clock.now(), reasons=[r.model_dump() for r in event.reasons],
                                 reason=event.reason, result=event.result, cause=event)
        except DomainError as exc:  # not retryable: a stale or impossible answer → dead-letter with the reason
            raise PermanentFailure(f"{type(exc).__name__}: {exc}") from exc

    async def on_steps_decided(events: list[StepDecidedV1]) -> dict[int, str]:
        """Departments' systems answered step requests: every answer of one fetch in one transaction."""
        return await service.decide_many(uow=kit.uow, answers=events, now=kit.clock.now())

    kit.subscribe_batch(StepDecidedV1, on_steps_decided)
