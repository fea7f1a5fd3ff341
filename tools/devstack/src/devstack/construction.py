"""Simulated departments of construction projects (工程建设项目): every department and utility
provider answers each ``ItemRequestedV1`` with ``ItemDecidedV1`` on the bus, as its system
would; scripted like the start-up departments (``devstack.simulators.Script``): a return is
keyed ``ITEM`` or ``ITEM:DEPARTMENT`` (a joint acceptance's inspector), a rejection by item.
A request asked again gets the answer it got the first time (the same event)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any, Protocol

from faststream.kafka import KafkaBroker

from contracts.events.approvals import FieldReason, ItemDecidedV1, ItemRequestedV1
from contracts.topics import topic_for
from servicekit.config import ServiceSettings
from servicekit.messaging import subscribe as kit_subscribe

log = logging.getLogger("devstack.simulators")
SOURCE = "/one-window/simulators/departments"


class ScriptLike(Protocol):
    returns: dict[tuple[str, int], str]
    rejects: set[str]
    delay: float

    def recall(self, key: tuple[str, ...], decide: Any) -> Any: ...


def answer(script: ScriptLike, request: ItemRequestedV1) -> ItemDecidedV1:
    """The department's answer; the same event again for a request already answered."""
    key = ("item", request.case_number, request.item, request.department, str(request.attempt))
    decided: ItemDecidedV1 = script.recall(key, lambda: _decide(script, request))
    return decided


def _decide(script: ScriptLike, request: ItemRequestedV1) -> ItemDecidedV1:
    common: dict[str, Any] = dict(item=request.item, department=request.department, attempt=request.attempt,
                                  reviewer_id=f"sim-{request.department}", source=SOURCE, subject=request.subject,
                                  case_number=request.case_number)
    if request.item in script.rejects:
        return ItemDecidedV1.caused_by(request, **common, decision="rejected", reason="模拟：不予许可")
    fld = script.returns.get((f"{request.item}:{request.department}", request.attempt)) or \
        script.returns.get((request.item, request.attempt))
    if fld:
        return ItemDecidedV1.caused_by(request, **common, decision="returned",
                                       reasons=[FieldReason(field=fld, reason="模拟：请补正此项")])
    ref = f"{request.department.upper()[:4]}{secrets.token_hex(4).upper()}"
    return ItemDecidedV1.caused_by(request, **common, decision="approved", result={"department_ref": ref})


def subscribe(broker: KafkaBroker, settings: ServiceSettings, script: ScriptLike) -> None:
    out = topic_for(ItemDecidedV1).name

    async def on_item_requested(request: ItemRequestedV1) -> None:
        """Review an item as the department's (or utility provider's) system would."""
        if script.delay:
            await asyncio.sleep(script.delay)
        decided = answer(script, request)
        body, headers = decided.to_wire()
        await broker.publish(body, out, key=decided.case_number.encode(), headers=headers,
                             correlation_id=decided.correlation_id)
        log.info("%s %s/%s@%s → %s", request.case_number, request.item, request.department, request.attempt,
                 decided.decision)

    kit_subscribe(broker, settings, ItemRequestedV1, on_item_requested)
