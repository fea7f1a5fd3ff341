"""Thin HTTP routes: messages (status linked to the case), preferences, partner-agency
subscriptions with their webhook deliveries and replay feed, agency entitlements. Who
may see what is decided by the use cases; the routes check only the caller's role. Every
state-changing route calls its use case through the kit's ``Once`` (``Idempotency-Key``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from contracts import TOPICS
from notifications.schemas import (
    AgencyIn,
    AgencyOut,
    DeliveryOut,
    EventTypeOut,
    FeedOut,
    MessageOut,
    PreferencesIn,
    PreferencesOut,
    SubscriptionCreated,
    SubscriptionHealthOut,
    SubscriptionIn,
    SubscriptionOut,
)
from notifications.service import CONSUMER, Messages, Partners
from servicekit.app import Provide
from servicekit.auth import STAFF_ROLES, Principal, Role, require
from servicekit.idempotency import Once

messages_use_cases = Provide[Messages]("messages")
partner_use_cases = Provide[Partners]("partners")
MessagesUC = Annotated[Messages, Depends(messages_use_cases)]
PartnersUC = Annotated[Partners, Depends(partner_use_cases)]
Person = Annotated[Principal, Depends(require(Role.APPLICANT, *STAFF_ROLES))]
AgencyOrOperator = Annotated[Principal, Depends(require(Role.PARTNER_AGENCY, Role.OPERATOR))]
Watching = Annotated[Principal, Depends(require(Role.OPERATOR, Role.SUPERVISOR))]
SWITCH = {"enable": True, "disable": False}

messages = APIRouter(prefix="/messages", tags=["messages"])
preferences = APIRouter(prefix="/preferences", tags=["preferences"])
partners = APIRouter(tags=["partner agencies"])


# -- messages ---------------------------------------------------------------------------------
@messages.get("", response_model=list[MessageOut], summary="Messages about a case (applicants: their own)")
async def for_case(case_number: str, who: Person, uc: MessagesUC) -> list[MessageOut]:
    return [MessageOut.of(m) for m in await uc.for_case(who, case_number)]


@messages.get("/mine", response_model=list[MessageOut], summary="My messages (staff: with my group's)")
async def mine(who: Person, uc: MessagesUC, limit: int = Query(100, ge=1, le=500)) -> list[MessageOut]:
    return [MessageOut.of(m) for m in await uc.mine(who, limit)]


@messages.get("/{message_id}", response_model=MessageOut, summary="One message and its delivery status")
async def one(message_id: str, who: Person, uc: MessagesUC) -> MessageOut:
    return MessageOut.of(await uc.one(who, message_id))


# -- preferences ------------------------------------------------------------------------------
@preferences.get("/me", response_model=PreferencesOut, summary="My channels, contact details and quiet hours")
async def my_preferences(who: Person, uc: MessagesUC) -> PreferencesOut:
    return PreferencesOut.of(await uc.preferences(who))


@preferences.put("/me", response_model=PreferencesOut, summary="Set my channels, contact details and quiet hours")
async def set_my_preferences(body: PreferencesIn, who: Person, uc: MessagesUC, once: Once) -> PreferencesOut:
    return await once(uc.set_preferences(
        who, channels=list(body.channels), phone=body.phone, email=body.email, wechat_openid=body.wechat_openid,
        quiet_hours=body.quiet_hours), PreferencesOut.of)


# -- partner agencies -------------------------------------------------------------------------
@partners.get("/event-types", response_model=list[EventTypeOut], summary="Event types an agency can subscribe to")
async def event_types() -> list[EventTypeOut]:
    return [EventTypeOut(type=t.event.ce_type, topic=t.name, description=t.description,
                         private_to_department="department" in t.event.model_fields)
            for t in TOPICS if CONSUMER in t.consumers]


@partners.post("/subscriptions", status_code=201, response_model=SubscriptionCreated, summary="Subscribe to events")
async def subscribe(body: SubscriptionIn, who: Annotated[Principal, Depends(require(Role.PARTNER_AGENCY))],
                    uc: PartnersUC, once: Once) -> SubscriptionCreated:
    return await once(uc.subscribe(who, event_types=body.event_types, filters=body.filters,
                                   webhook_url=body.webhook_url, secret=body.secret), SubscriptionCreated.of_new)


@partners.get("/subscriptions", response_model=list[SubscriptionOut], summary="Subscriptions (an agency: its own)")
async def subscriptions(who: AgencyOrOperator, uc: PartnersUC) -> list[SubscriptionOut]:
    return [SubscriptionOut.of(s) for s in await uc.subscriptions(who)]


@partners.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut, summary="One subscription")
async def subscription(subscription_id: str, who: AgencyOrOperator, uc: PartnersUC) -> SubscriptionOut:
    return SubscriptionOut.of(await uc.subscription(who, subscription_id))


@partners.post("/subscriptions/{subscription_id}/{action}", response_model=SubscriptionOut,
               summary="Disable or enable a subscription")
async def switch(subscription_id: str, action: Literal["enable", "disable"], who: AgencyOrOperator, uc: PartnersUC,
                 once: Once) -> SubscriptionOut:
    return await once(uc.set_active(who, subscription_id, SWITCH[action]), SubscriptionOut.of)


@partners.get("/subscriptions/{subscription_id}/deliveries", response_model=list[DeliveryOut],
              summary="Webhook deliveries of a subscription, newest first, with their attempts")
async def deliveries(subscription_id: str, who: AgencyOrOperator, uc: PartnersUC,
                     limit: int = Query(100, ge=1, le=500)) -> list[DeliveryOut]:
    return [DeliveryOut.of(d) for d in await uc.deliveries(who, subscription_id, limit)]


@partners.get("/subscriptions/{subscription_id}/events", response_model=FeedOut,
              summary="Replay: the subscription's events in order, after a cursor")
async def feed(subscription_id: str, who: AgencyOrOperator, uc: PartnersUC, after: str | None = None,
               limit: int = Query(100, ge=1, le=1000)) -> FeedOut:
    return FeedOut.of(*await uc.feed(who, subscription_id, after, limit))


@partners.get("/ops/subscriptions/health", response_model=list[SubscriptionHealthOut], tags=["operations"],
              summary="Every subscription's webhook delivery health over the last 24 hours (operators, supervisors)")
async def subscriptions_health(who: Watching, uc: PartnersUC) -> list[SubscriptionHealthOut]:
    return [SubscriptionHealthOut.of(h) for h in await uc.health(who)]


@partners.put("/agencies/{agency_id}", response_model=AgencyOut, summary="Set an agency's entitlements (operators)")
async def set_agency(agency_id: str, body: AgencyIn, who: Annotated[Principal, Depends(require(Role.OPERATOR))],
                     uc: PartnersUC, once: Once) -> AgencyOut:
    return await once(uc.set_agency(agency_id, departments=body.departments, personal_data=body.personal_data),
                      AgencyOut.of)


@partners.get("/agencies/{agency_id}", response_model=AgencyOut, summary="An agency's entitlements")
async def agency(agency_id: str, who: AgencyOrOperator, uc: PartnersUC) -> AgencyOut:
    return AgencyOut.of(await uc.agency(who, agency_id))


routers = [messages, preferences, partners]
