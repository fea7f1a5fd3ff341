"""Kafka subscribers: thin, one use-case call each."""

from __future__ import annotations

from typing import Any

from crossregion.service import Inbound
from crossregion.service.exchange import FOLLOWED
from servicekit.app import ServiceKit


def register(kit: ServiceKit[Any], inbound: Inbound) -> None:
    # Registration's events about the cases it handles for other regions (one consumer, many topics):
    # each status goes back to the origin region.
    kit.subscribe_many(FOLLOWED, inbound.on_registration_event)
