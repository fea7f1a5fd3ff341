"""Thin FastStream subscribers: one service call each."""

from __future__ import annotations

from typing import Any

from contracts.events.crossregion import CaseForwardedV1
from contracts.events.registration import StepDecidedV1
from registration.domain import DomainError
from registration.service import Registration
from servicekit.app import ServiceKit


def register(kit: ServiceKit[Any], registration: Registration) -> None:
    # Departments' systems answer step requests: every answer of one fetch in one transaction;
    # the answers refused for good are dead-lettered with their reason.
    kit.subscribe_batch(StepDecidedV1, registration.decide_many)
    # Another region's center forwarded a case (or an applicant from elsewhere applied online): it
    # becomes a case here; a form registration refuses is dead-lettered with the reason.
    kit.subscribe(CaseForwardedV1, registration.accept_forwarded, permanent=(DomainError,))
