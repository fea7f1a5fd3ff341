"""HTTP API: thin routes (``response_model`` from schemas), one use-case call each. State-changing
routes of people go through the kit's ``Once`` (``Idempotency-Key``); the exchange between
centers is idempotent on its own exchange id and authenticated by its signature (no token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from crossregion.domain import ExchangeRefused
from crossregion.schemas import (
    AuditOut,
    BacklogOut,
    CrossCaseIn,
    CrossCaseOut,
    CustodyIn,
    KeyIn,
    OnlineIn,
    OurKeysOut,
    ReceiptOut,
    RegionIn,
    RegionOut,
)
from crossregion.service import Cases, Delivery, Inbound, Regions
from servicekit.app import Provide
from servicekit.auth import Principal, Role, require
from servicekit.idempotency import Once
from servicekit.openapi import problem_response
from servicekit.problems import Problem

TITLE = "One Window — Cross-region joint processing (跨省通办 / 省内通办)"
DESCRIPTION = ("Partner regions and their keys; applications taken here for other regions (异地代收代办, 多地联办) "
               "and cases other regions forward to us, over HTTP signed per RFC 9421; fully online applications "
               "(全程网办); the custody trail of physical materials; the delivery backlog for operators.")
regions_uc, cases_uc = Provide[Regions]("regions"), Provide[Cases]("cases")
inbound_uc, delivery_uc = Provide[Inbound]("inbound"), Provide[Delivery]("delivery")
RegionsDep = Annotated[Regions, Depends(regions_uc)]
CasesDep = Annotated[Cases, Depends(cases_uc)]
InboundDep = Annotated[Inbound, Depends(inbound_uc)]
DeliveryDep = Annotated[Delivery, Depends(delivery_uc)]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
OperatorOrStaff = Annotated[Principal, Depends(require(Role.OPERATOR, Role.WINDOW_STAFF))]
Staff = Annotated[Principal, Depends(require(Role.WINDOW_STAFF))]
Applicant = Annotated[Principal, Depends(require(Role.APPLICANT))]
Anyone = Annotated[Principal, Depends(require(*Role))]

REFUSALS: dict[int | str, dict[str, Any]] = {status: problem_response(status, why) for status, why in {
    400: "Malformed: the signature or the exchange document (the reason says which)",
    401: "Unsigned, unknown or retired key id, expired, tampered (digest or signature)",
    403: "The sender is not the region that holds the key, or has no part in the case",
    404: "The exchange names a case we do not have",
    409: "A replayed request (nonce seen), or an exchange id reused with other content",
    422: "The region has not agreed to this matter or mode, or the case refuses the update",
}.items()}

regions = APIRouter(prefix="/regions", tags=["partner regions"])
cases = APIRouter(prefix="/cross-cases", tags=["cross-region cases"])
exchange = APIRouter(tags=["exchange between centers"])
router = APIRouter()


@regions.post("", response_model=RegionOut, summary="Register (or update) a partner region")
async def register(body: RegionIn, who: Operator, uc: RegionsDep, once: Once) -> RegionOut:
    return await once(uc.register(who, **body.model_dump()), RegionOut.of)


@regions.get("", response_model=list[RegionOut], summary="The partner regions")
async def list_regions(who: OperatorOrStaff, uc: RegionsDep) -> list[RegionOut]:
    return [RegionOut.of(r) for r in await uc.list(who)]


@regions.get("/{division_code}", response_model=RegionOut, summary="One partner region")
async def get_region(division_code: str, who: OperatorOrStaff, uc: RegionsDep) -> RegionOut:
    return RegionOut.of(await uc.get(who, division_code))


@regions.post("/{division_code}/keys", response_model=RegionOut,
              summary="Rotate a region's key: the previous one stays valid until the overlap ends")
async def rotate(division_code: str, body: KeyIn, who: Operator, uc: RegionsDep, once: Once) -> RegionOut:
    return await once(uc.rotate(who, division_code, **body.model_dump()), RegionOut.of)


@cases.post("", status_code=201, response_model=CrossCaseOut,
            summary="Take an application for other regions (异地代收代办 / 多地联办)")
async def take(body: CrossCaseIn, who: Staff, uc: CasesDep, once: Once) -> CrossCaseOut:
    return await once(uc.take(who, **body.model_dump()), CrossCaseOut.of)


@cases.post("/online", status_code=201, response_model=CrossCaseOut, summary="Apply online (全程网办)")
async def apply_online(body: OnlineIn, who: Applicant, uc: CasesDep, once: Once) -> CrossCaseOut:
    return await once(uc.apply_online(who, **body.model_dump()), CrossCaseOut.of)


@cases.get("/{reference}", response_model=CrossCaseOut, summary="A case: its parts, custody trail and timeline")
async def read(reference: str, who: Anyone, uc: CasesDep) -> CrossCaseOut:
    return CrossCaseOut.of(await uc.get(who, reference))


@cases.post("/{reference}/custody", response_model=CrossCaseOut,
            summary="Physical materials sent (with the waybill), received or returned")
async def custody(reference: str, body: CustodyIn, who: Staff, uc: CasesDep, once: Once) -> CrossCaseOut:
    return await once(uc.record_custody(who, reference, **body.model_dump()), CrossCaseOut.of)


@cases.post("/{reference}/hand-out", response_model=CrossCaseOut, summary="Hand the result to the applicant")
async def hand_out(reference: str, who: Staff, uc: CasesDep, once: Once) -> CrossCaseOut:
    return await once(uc.hand_out(who, reference), CrossCaseOut.of)


@exchange.post("/exchange", response_model=ReceiptOut, responses=REFUSALS,
               openapi_extra={"x-idempotent-on": "the signed body's exchange_id (partner centers hold no bearer token)"},
               summary="A partner center's signed exchange (RFC 9421, Ed25519): no bearer token")
async def receive(request: Request, uc: InboundDep) -> ReceiptOut:
    try:
        return ReceiptOut.of(await uc.receive(method=request.method, url=str(request.url), headers=request.headers,
                                              body=await request.body(),
                                              remote=request.client.host if request.client else None))
    except ExchangeRefused as refused:
        raise Problem(refused.status, detail=refused.reason, code="ExchangeRefused") from refused


@exchange.get("/exchange/keys", response_model=OurKeysOut, summary="Our public keys, to give to partners")
async def our_keys(who: OperatorOrStaff, uc: DeliveryDep) -> OurKeysOut:
    return OurKeysOut(region_code=uc.here, keys=uc.signer.public_keys())


@exchange.get("/ops/exchanges/backlog", response_model=BacklogOut,
              summary="Outbound exchanges not delivered yet: how many, the oldest's age, per region")
async def backlog(who: Operator, uc: DeliveryDep) -> BacklogOut:
    return BacklogOut.of(await uc.backlog(), uc.clock.now())


@exchange.get("/ops/exchanges/audit", response_model=list[AuditOut],
              summary="The audit trail of inbound exchanges (accepted, duplicate, refused with the reason)")
async def audit(who: Operator, uc: InboundDep) -> list[AuditOut]:
    return [AuditOut.of(a) for a in await uc.audit_trail(200)]


router.include_router(regions)
router.include_router(cases)
router.include_router(exchange)
