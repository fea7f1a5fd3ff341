"""Use cases of the exchange coming in: a partner's signed request (verified, checked against
replay, idempotent on its exchange id, audited whatever the outcome), and registration's
events about the cases it handles for other regions (each status sent back to the origin)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import NamedTuple

from pydantic import ValidationError

from contracts import Event
from contracts.events import registration as reg
from crossregion.domain import (
    CrossCase,
    CustodyUpdate,
    DomainError,
    Exchange,
    ExchangeRefused,
    ForwardedCase,
    NotFound,
    PartnerRegion,
    StatusUpdate,
)
from crossregion.ports import AuditRecord, ExchangeRecord, Repositories, Verifier
from crossregion.service.common import CONSUMER, queue, save
from servicekit.clock import Clock
from servicekit.ports import Tx, UnitOfWork

log = logging.getLogger(__name__)


class Receipt(NamedTuple):
    exchange_id: str
    outcome: str  # accepted | duplicate
    reference: str


class Inbound:
    def __init__(self, *, uow: UnitOfWork[Repositories], clock: Clock, verifier: Verifier, here: str,
                 here_name: str) -> None:
        self.uow, self.clock, self.verifier, self.here, self.here_name = uow, clock, verifier, here, here_name

    # -- a partner's request ------------------------------------------------------------------------
    async def receive(self, *, method: str, url: str, headers: Mapping[str, str], body: bytes,
                      remote: str | None = None) -> Receipt:
        """Verify, then apply in one transaction with its record and audit. A refusal
        (:class:`ExchangeRefused`, 4xx with the reason) creates nothing and is audited."""
        now = self.clock.now()
        key_id: str | None = None
        exchange_id = sender = None
        try:
            regions = {k.key_id: (r, k.public_key) for r in await self.uow.read(lambda repos: repos.regions.list())
                       for k in r.valid_keys(now)}
            verified = self.verifier.verify(method=method, url=url, headers=headers, body=body,
                                            public=lambda kid: regions[kid][1] if kid in regions else None)
            key_id = verified.key_id
            region = regions[verified.key_id][0]
            exchange = _parse(body)
            exchange_id, sender = exchange.exchange_id, exchange.sender
            if exchange.sender != region.division_code:
                raise ExchangeRefused(403, "the sender is not the region that holds the key", region=sender)
            digest = hashlib.sha256(body).hexdigest()

            async def work(tx: Tx[Repositories]) -> Receipt:
                if not await tx.repos.exchanges.use_nonce(verified.key_id, verified.nonce,
                                                          verified.expires + timedelta(minutes=5)):
                    raise ExchangeRefused(409, "replayed request (its nonce was seen before)")
                seen = await tx.repos.exchanges.get(exchange.exchange_id)
                if seen is not None:
                    if seen.digest != digest:
                        raise ExchangeRefused(409, "exchange id reused with other content")
                    receipt = Receipt(exchange.exchange_id, "duplicate", seen.reference)
                else:
                    reference = await self._apply(tx, region, exchange, now)
                    await tx.repos.exchanges.add(ExchangeRecord(exchange.exchange_id, region.division_code,
                                                                exchange.body.kind, digest, reference, now))
                    receipt = Receipt(exchange.exchange_id, "accepted", reference)
                await tx.repos.exchanges.audit(AuditRecord(now, receipt.outcome, 200, exchange.body.kind,
                                                           exchange.exchange_id, sender, key_id, remote))
                return receipt

            return await self.uow.run(work)
        except ExchangeRefused as refused:
            await self._audit_refusal(now, refused, exchange_id, sender, key_id or refused.key_id, remote)
            raise
        except DomainError as exc:
            domain = ExchangeRefused(422, f"{type(exc).__name__}: {exc}")
            await self._audit_refusal(now, domain, exchange_id, sender, key_id, remote)
            raise domain from exc

    async def _audit_refusal(self, now: datetime, refused: ExchangeRefused, exchange_id: str | None,
                             sender: str | None, key_id: str | None, remote: str | None) -> None:
        log.warning("inbound exchange refused (%s): %s [exchange %s, key %s, from %s]", refused.status,
                    refused.reason, exchange_id, key_id, remote)
        record = AuditRecord(now, "refused", refused.status, refused.reason, exchange_id, sender, key_id, remote)
        await self.uow.autocommit(lambda repos: repos.exchanges.audit(record))

    async def _apply(self, tx: Tx[Repositories], region: PartnerRegion, exchange: Exchange, now: datetime) -> str:
        body = exchange.body
        if isinstance(body, ForwardedCase):
            region.check_agreed(body.matter, body.mode)
            if await tx.repos.cases.find(body.reference) is not None:
                raise ExchangeRefused(409, "this case was forwarded before (another exchange id)")
            case = CrossCase.receive(reference=body.reference, here=self.here, here_name=self.here_name,
                                     origin_region=region.division_code, origin_name=region.name, mode=body.mode,
                                     matter=body.matter, applicant_id=body.applicant_id,
                                     applicant_phone=body.applicant_phone, form=body.form,
                                     deliver_at=body.deliver_at, now=now)
            await save(tx, case, now, new=True)
            return case.reference
        found = await tx.repos.cases.find(body.reference)
        if found is None:
            raise ExchangeRefused(404, "no such case")
        case = found
        if region.division_code not in (*case.handling_regions, case.origin_region):
            raise ExchangeRefused(403, "the sender has no part in this case")
        if isinstance(body, StatusUpdate):
            changed = case.progress(region=region.division_code, seq=body.seq, status=body.status, at=body.at,
                                    detail=body.detail, remote_case_number=body.case_number,
                                    within_time_limit=body.within_time_limit)
        elif isinstance(body, CustodyUpdate):
            changed = case.record_custody(action=body.action, waybill=body.waybill, carrier=body.carrier,
                                          actor=region.division_code, region=region.division_code, now=body.at,
                                          sent_to=self.here if body.action == "sent" else None)
        if changed:
            await save(tx, case, now)
        return case.reference

    async def audit_trail(self, limit: int) -> list[AuditRecord]:
        return await self.uow.read(lambda repos: repos.exchanges.audit_trail(limit))

    # -- registration's events about the cases handled here -------------------------------------------
    async def on_registration_event(self, event: Event) -> None:
        """Follow the registration case made from a forwarded (or online) case: its correlation id is
        the reference. Other cases' events are not ours: nothing but the processed marker is written."""
        mapped = _status_of(event)
        if mapped is None:
            return
        status, detail, within = mapped
        now = self.clock.now()

        async def work(tx: Tx[Repositories], fresh: list[Event]) -> None:
            if not fresh:
                return
            case = await tx.repos.cases.find(event.correlation_id)
            if case is None or case.direction != "inbound":
                return
            made = None if isinstance(event, reg.ForwardedApplicationRefusedV1) else event.case_number  # no case
            seq = case.mirror(status=status, at=event.time, detail=detail, case_number=made, within_time_limit=within)
            if seq is not None:
                await queue(tx, here=self.here, region=case.origin_region, now=now, body=StatusUpdate(
                    reference=case.reference, seq=seq, status=status, at=event.time, detail=detail,  # type: ignore[arg-type]
                    case_number=made, within_time_limit=within))
            await save(tx, case, now, cause=event)

        await self.uow.consume(CONSUMER, [event], work)


def _parse(body: bytes) -> Exchange:
    try:
        return Exchange.model_validate_json(body)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise ExchangeRefused(400, f"malformed exchange: {fields}") from exc


FOLLOWED: tuple[type[Event], ...] = (reg.ApplicationSubmittedV1, reg.ApplicationIncompleteV1,
                                     reg.ApplicationAcceptedV1, reg.StepReturnedV1, reg.LicenceIssuedV1,
                                     reg.CaseCompletedV1, reg.CaseRejectedV1, reg.ForwardedApplicationRefusedV1)


def _status_of(event: Event) -> tuple[str, str, bool] | None:
    """Registration's event as (status, detail for people, within the time limit)."""
    if isinstance(event, reg.ApplicationSubmittedV1):
        return "registered", f"登记为办件 {event.case_number}", True
    if isinstance(event, reg.ApplicationIncompleteV1):
        return "incomplete", "材料需补充：" + "；".join(m.reason for m in event.missing), True
    if isinstance(event, reg.ApplicationAcceptedV1):
        return "accepted", f"已受理，办件号 {event.case_number}", True
    if isinstance(event, reg.StepReturnedV1):
        return "returned", "需要补正：" + "；".join(f"{r.field}（{r.reason}）" for r in event.reasons), True
    if isinstance(event, reg.LicenceIssuedV1):
        return "licence_issued", f"营业执照已核发，统一社会信用代码 {event.unified_social_credit_code}", True
    if isinstance(event, reg.CaseCompletedV1):
        return "completed", "已办结", event.within_time_limit
    if isinstance(event, reg.CaseRejectedV1):
        return "rejected", f"未获通过：{event.reason}", True
    if isinstance(event, reg.ForwardedApplicationRefusedV1):
        return "rejected", f"表单不能受理：{event.reason}"[:500], True
    return None


__all__ = ["FOLLOWED", "Inbound", "NotFound", "Receipt"]
