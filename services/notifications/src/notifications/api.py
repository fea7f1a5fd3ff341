"""Thin HTTP routes: messages (status linked to the case), preferences, partner-agency
subscriptions with their webhook deliveries and replay feed, agency entitlements."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Query, Request

from contracts import TOPICS
from notifications import service
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
    SubscriptionIn,
    SubscriptionOut,
)
from notifications.webhooks import new_secret
from servicekit.app import ServiceKit
from servicekit.auth import STAFF_ROLES, Principal, Role, require
from servicekit.problems import Problem

PEOPLE = (Role.APPLICANT, *STAFF_ROLES)
messages = APIRouter(prefix="/messages", tags=["messages"])
preferences = APIRouter(prefix="/preferences", tags=["preferences"])
partners = APIRouter(tags=["partner agencies"])


def _kit(request: Request) -> ServiceKit:
    kit: ServiceKit = request.app.state.kit
    return kit


def _agency_scope(who: Principal) -> str | None:
    """A partner agency sees its own subscriptions; an operator sees all."""
    return who.agency_id if who.role is Role.PARTNER_AGENCY else None


# -- messages ---------------------------------------------------------------------------------
@messages.get("", response_model=list[MessageOut], summary="Messages about a case (applicants: their own)")
async def for_case(case_number: str, request: Request, who: Principal = Depends(require(*PEOPLE))) -> list[MessageOut]:
    found = await service.messages_for_case(uow=_kit(request).uow, case_number=case_number)
    return [MessageOut.of(m) for m in found if who.owner_filter() in (None, m.recipient_id)]


@messages.get("/mine", response_model=list[MessageOut], summary="My messages (staff: with my group's)")
async def mine(request: Request, limit: int = Query(100, ge=1, le=500),
               who: Principal = Depends(require(*PEOPLE))) -> list[MessageOut]:
    ids = service.inboxes(person_id=who.sub, role=who.role.value, department=who.department)
    return [MessageOut.of(m) for m in await service.messages_for_recipients(uow=_kit(request).uow,
                                                                             recipient_ids=ids, limit=limit)]


@messages.get("/{message_id}", response_model=MessageOut, summary="One message and its delivery status")
async def one(message_id: str, request: Request, who: Principal = Depends(require(*PEOPLE))) -> MessageOut:
    visible = [who.sub] if who.owner_filter() else None
    return MessageOut.of(await service.get_message(uow=_kit(request).uow, message_id=message_id, visible_to=visible))


# -- preferences ------------------------------------------------------------------------------
@preferences.get("/me", response_model=PreferencesOut, summary="My channels, contact details and quiet hours")
async def my_preferences(request: Request, who: Principal = Depends(require(*PEOPLE))) -> PreferencesOut:
    return PreferencesOut.of(await service.get_preferences(uow=_kit(request).uow, recipient_id=who.sub))


@preferences.put("/me", response_model=PreferencesOut, summary="Set my channels, contact details and quiet hours")
async def set_my_preferences(body: PreferencesIn, request: Request,
                             who: Principal = Depends(require(*PEOPLE))) -> PreferencesOut:
    kit = _kit(request)
    contact = await service.set_preferences(
        uow=kit.uow, recipient_id=who.sub, role=who.role.value, department=who.department, channels=list(body.channels),
        phone=body.phone, email=body.email, wechat_openid=body.wechat_openid, quiet_hours=body.quiet_hours,
        now=kit.clock.now())
    return PreferencesOut.of(contact)


# -- partner agencies -------------------------------------------------------------------------
@partners.get("/event-types", response_model=list[EventTypeOut], summary="Event types an agency can subscribe to")
async def event_types() -> list[EventTypeOut]:
    return [EventTypeOut(type=t.event.ce_type, topic=t.name, description=t.description,
                         private_to_department="department" in t.event.model_fields)
            for t in TOPICS if service.CONSUMER in t.consumers]


@partners.post("/subscriptions", status_code=201, response_model=SubscriptionCreated, summary="Subscribe to events")
async def subscribe(body: SubscriptionIn, request: Request,
                    who: Principal = Depends(require(Role.PARTNER_AGENCY))) -> SubscriptionCreated:
    kit = _kit(request)
    sub = await service.create_subscription(
        uow=kit.uow, agency_id=who.agency_id or "", event_types=body.event_types, filters=body.filters,
        webhook_url=body.webhook_url, secret=body.secret, new_secret=new_secret, now=kit.clock.now(),
        allow_http=kit.settings.webhook_allow_http)
    return SubscriptionCreated(**SubscriptionOut.of(sub).model_dump(), secret=sub.secret)


@partners.get("/subscriptions", response_model=list[SubscriptionOut], summary="Subscriptions (an agency: its own)")
async def subscriptions(request: Request, who: Principal = Depends(require(Role.PARTNER_AGENCY, Role.OPERATOR))
                        ) -> list[SubscriptionOut]:
    found = await service.list_subscriptions(uow=_kit(request).uow, agency_id=_agency_scope(who))
    return [SubscriptionOut.of(s) for s in found]


@partners.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut, summary="One subscription")
async def subscription(subscription_id: str, request: Request,
                       who: Principal = Depends(require(Role.PARTNER_AGENCY, Role.OPERATOR))) -> SubscriptionOut:
    return SubscriptionOut.of(await service.get_subscription(uow=_kit(request).uow, subscription_id=subscription_id,
                                                             agency_id=_agency_scope(who)))


@partners.post("/subscriptions/{subscription_id}/{action}", response_model=SubscriptionOut,
               summary="Disable or enable a subscription")
async def switch(subscription_id: str, action: str, request: Request,
                 who: Principal = Depends(require(Role.PARTNER_AGENCY, Role.OPERATOR))) -> SubscriptionOut:
    if action not in ("enable", "disable"):
        raise Problem(404, "Not Found", f"no action {action}")
    kit = _kit(request)
    sub = await service.set_subscription_active(uow=kit.uow, subscription_id=subscription_id,
                                                agency_id=_agency_scope(who), active=action == "enable",
                                                now=kit.clock.now())
    return SubscriptionOut.of(sub)


@partners.get("/subscriptions/{subscription_id}/deliveries", response_model=list[DeliveryOut],
              summary="Webhook deliveries of a subscription, newest first, with their attempts")
async def deliveries(subscription_id: str, request: Request, limit: int = Query(100, ge=1, le=500),
                     who: Principal = Depends(require(Role.PARTNER_AGENCY, Role.OPERATOR))) -> list[DeliveryOut]:
    found = await service.deliveries_of(uow=_kit(request).uow, subscription_id=subscription_id,
                                        agency_id=_agency_scope(who), limit=limit)
    return [DeliveryOut.of(d) for d in found]


@partners.get("/subscriptions/{subscription_id}/events", response_model=FeedOut,
              summary="Replay: the subscription's events in order, after a cursor")
async def feed(subscription_id: str, request: Request, after: str | None = None,
               limit: int = Query(100, ge=1, le=1000),
               who: Principal = Depends(require(Role.PARTNER_AGENCY, Role.OPERATOR))) -> FeedOut:
    kit = _kit(request)
    items, next_cursor = await service.read_feed(
        uow=kit.uow, subscription_id=subscription_id, agency_id=_agency_scope(who), after=after, limit=limit,
        now=kit.clock.now(), settle=timedelta(seconds=kit.settings.feed_settle_seconds))
    return FeedOut.of(items, next_cursor)


@partners.put("/agencies/{agency_id}", response_model=AgencyOut, summary="Set an agency's entitlements (operators)")
async def set_agency(agency_id: str, body: AgencyIn, request: Request,
                     who: Principal = Depends(require(Role.OPERATOR))) -> AgencyOut:
    kit = _kit(request)
    return AgencyOut.of(await service.set_agency(uow=kit.uow, agency_id=agency_id, departments=body.departments,
                                                 personal_data=body.personal_data, now=kit.clock.now()))


@partners.get("/agencies/{agency_id}", response_model=AgencyOut, summary="An agency's entitlements")
async def agency(agency_id: str, request: Request,
                 who: Principal = Depends(require(Role.PARTNER_AGENCY, Role.OPERATOR))) -> AgencyOut:
    if who.role is Role.PARTNER_AGENCY and who.agency_id != agency_id:
        raise Problem(404, "Not Found", f"no agency {agency_id}")
    return AgencyOut.of(await service.get_agency(uow=_kit(request).uow, agency_id=agency_id))


routers = [messages, preferences, partners]
