"""Kafka subscribers: thin, one use-case call each."""

from __future__ import annotations

from typing import Any

from contracts.events.approvals import StageCompletedV1
from contracts.events.crossregion import CrossRegionCaseCompletedV1
from contracts.events.registration import CaseCompletedV1
from ratings.service import Ratings
from servicekit.app import ServiceKit


def subscribe(kit: ServiceKit[Any], use_cases: Ratings) -> Ratings:
    # Completed cases open for rating (一事一评): each fetch of either topic in one transaction.
    kit.subscribe_batch(CaseCompletedV1, use_cases.open_completed)
    kit.subscribe_batch(StageCompletedV1, use_cases.open_completed)
    kit.subscribe_batch(CrossRegionCaseCompletedV1, use_cases.open_completed)
    return use_cases
