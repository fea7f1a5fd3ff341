"""Kafka subscribers: thin, one use-case call each."""

from __future__ import annotations

from typing import Any

from approvals.service import Approvals
from contracts.events.approvals import ItemDecidedV1
from servicekit.app import ServiceKit


def subscribe(kit: ServiceKit[Any], use_cases: Approvals) -> Approvals:
    # Departments' systems answer item requests: every answer of one fetch in one transaction;
    # those refused for good (another department's item, a stale attempt) are dead-lettered with the reason.
    kit.subscribe_batch(ItemDecidedV1, use_cases.decide_many)
    return use_cases
