"""Thin FastStream subscribers: one service call each."""

from __future__ import annotations

from typing import Any

from contracts.events.registration import StepDecidedV1
from registration.service import Registration
from servicekit.app import ServiceKit


def register(kit: ServiceKit[Any], registration: Registration) -> None:
    # Departments' systems answer step requests: every answer of one fetch in one transaction;
    # the answers refused for good are dead-lettered with their reason.
    kit.subscribe_batch(StepDecidedV1, registration.decide_many)
