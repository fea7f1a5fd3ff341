"""Kafka subscribers: thin, one use-case call each."""

from __future__ import annotations

from typing import Any

from approvals.service import Approvals
from servicekit.app import ServiceKit


def subscribe(kit: ServiceKit[Any], use_cases: Approvals) -> Approvals:
    """Subscribes the use cases' handlers (``kit.subscribe(SomeEventV1, use_cases.on_some_event)``); none yet."""
    return use_cases
