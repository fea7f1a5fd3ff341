"""Simulated departments (demo and test tooling, kept apart from the services).

Plays every partner agency of company start-up: consumes ``StepRequestedV1`` and
answers each with ``StepDecidedV1`` on the bus, as a real agency's system would; and
every department of construction projects (``devstack.construction``): consumes
``ItemRequestedV1`` and answers with ``ItemDecidedV1`` (``--return ITEM[:DEPARTMENT]@ATTEMPT=FIELD``
returns an item, e.g. ``project_approval@1=form.construction_scale``).
By default every step is approved at once; ``--return STEP@ATTEMPT=FIELD`` returns a
step for correction on that attempt (e.g. ``tax@1=tax.taxpayer_type``) and
``--reject STEP`` rejects it. A request asked again (``re_request``, or delivered twice)
gets the answer it got the first time, the same event (same ``ce_id``): idempotent, as a
department's system must be.

    python -m devstack.simulators [--return tax@1=tax.taxpayer_type] [--delay 0]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import signal
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from faststream.kafka import KafkaBroker

from contracts.events.registration import FieldReason, StepDecidedV1, StepRequestedV1
from contracts.topics import dead_letter_topic, topic_for
from devstack import construction
from devstack.topics import ensure_topics
from servicekit.config import ServiceSettings, load, service_config
from servicekit.messaging import make_broker, subscribe
from servicekit.telemetry import setup_logging

log = logging.getLogger("devstack.simulators")
SOURCE = "/one-window/simulators/departments"


class SimulatorSettings(ServiceSettings):
    model_config = service_config("SIMULATOR_")
    service_name: str = "department-simulator"


@dataclass
class Script:
    returns: dict[tuple[str, int], str] = field(default_factory=dict)  # (step, attempt) -> field
    rejects: set[str] = field(default_factory=set)
    delay: float = 0.0
    answers: OrderedDict[tuple[str, ...], Any] = field(default_factory=OrderedDict)  # key → the answer event
    remember: int = 10_000  # answers kept to repeat (the oldest are forgotten first)

    @classmethod
    def parse(cls, returns: list[str], rejects: list[str], delay: float = 0.0) -> Script:
        parsed = {}
        for spec in returns:
            where, fld = spec.split("=", 1)
            step, attempt = where.split("@", 1)
            parsed[(step, int(attempt))] = fld
        return cls(parsed, set(rejects), delay)

    def answer(self, request: StepRequestedV1) -> StepDecidedV1:
        """The answer to ``request``; the same event again for a request already answered."""
        decided = self.recall((request.case_number, request.step, str(request.attempt)), lambda: self._decide(request))
        assert isinstance(decided, StepDecidedV1)
        return decided

    def recall(self, key: tuple[str, ...], decide: Callable[[], Any]) -> Any:
        """The answer remembered for ``key``, or ``decide()``'s, remembered (the oldest forgotten first)."""
        if key in self.answers:
            self.answers.move_to_end(key)
            return self.answers[key]
        self.answers[key] = decided = decide()
        while len(self.answers) > self.remember:
            self.answers.popitem(last=False)
        return decided

    def _decide(self, request: StepRequestedV1) -> StepDecidedV1:
        common = dict(step=request.step, department=request.department, attempt=request.attempt,
                      reviewer_id=f"sim-{request.department}", source=SOURCE, subject=request.subject,
                      case_number=request.case_number)
        if request.step in self.rejects:
            return StepDecidedV1.caused_by(request, **common, decision="rejected", reason="模拟：不予登记")
        fld = self.returns.get((request.step, request.attempt))
        if fld:
            return StepDecidedV1.caused_by(request, **common, decision="returned",
                                           reasons=[FieldReason(field=fld, reason="模拟：请补正此项")])
        return StepDecidedV1.caused_by(request, **common, decision="approved", result=_result(request))


def _result(request: StepRequestedV1) -> dict[str, str]:
    ref = secrets.token_hex(4).upper()
    return {
        "licence": {"licence_no": f"YYZZ{ref}"},
        "seal": {"seal_record_no": f"GZBA{ref}"},
        "tax": {"tax_registration_no": request.unified_social_credit_code or "", "invoice_approval_no": f"FP{ref}"},
        "social_security": {"social_insurance_unit_no": f"SB{ref}"},
    }[request.step]


def build(settings: ServiceSettings, script: Script) -> KafkaBroker:
    broker = make_broker(settings)
    out = topic_for(StepDecidedV1).name

    async def on_step_requested(request: StepRequestedV1) -> None:
        """Answer a step request as the department's system would."""
        if script.delay:
            await asyncio.sleep(script.delay)
        decided = script.answer(request)
        body, headers = decided.to_wire()
        await broker.publish(body, out, key=decided.case_number.encode(), headers=headers,
                             correlation_id=decided.correlation_id)  # FastStream's header = ce_correlationid
        log.info("%s %s@%s%s → %s", request.case_number, request.step, request.attempt,
                 " (asked again)" if request.re_request else "", decided.decision)

    subscribe(broker, settings, StepRequestedV1, on_step_requested)
    construction.subscribe(broker, settings, script)
    return broker


async def run(script: Script) -> None:
    settings = load(SimulatorSettings)
    setup_logging(settings.service_name, settings.log_level)
    # Its dead-letter topic is not in the registry (the simulator is no service of the list; its
    # group name can be set): without it a poison step request could never be dead-lettered.
    await ensure_topics(settings.kafka_bootstrap_servers, {dead_letter_topic(settings.service_name): 1})
    broker = build(settings, script)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await broker.start()
    log.info("department simulator ready (returns=%s rejects=%s)", script.returns, script.rejects)
    await stop.wait()
    await broker.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--return", dest="returns", action="append", default=[], metavar="STEP@ATTEMPT=FIELD")
    p.add_argument("--reject", dest="rejects", action="append", default=[], metavar="STEP")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = p.parse_args()
    asyncio.run(run(Script.parse(args.returns, args.rejects, args.delay)))


if __name__ == "__main__":
    main()
