"""The notifications use cases against in-memory repositories and the shared fake unit of
work: events in (once each), who sees which messages, partner agencies' scope, version
conflicts retried, webhook dispatch giving up on a gone receiver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import registration as reg
from notifications.domain import DeliveryStatus, NotFound, Rules, Subscription, SubscriptionStatus, WebhookPolicy
from notifications.ports import WebhookResponse
from notifications.service import Directory, Inbound, Messages, Partners, WebhookDispatch
from servicekit.aggregate import ConcurrentUpdate
from servicekit.auth import Principal, Role
from servicekit.clock import FrozenClock
from servicekit.outbound import OutboundPolicy
from servicekit.readcache import ReadCache
from tests.support.events import make
from tests.unit.notifications_fakes import unit_of_work

T0 = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # 10:00 Beijing time
DUE = T0 + timedelta(days=1)
FORM = {"legal_representative": {"name": "王五", "id_number": "620102199001011234", "phone": "13912345678"}}
APPLICANT, OTHER = Principal("u-1", Role.APPLICANT), Principal("u-2", Role.APPLICANT)
TAX, POLICE = (Principal(f"sys-{a}", Role.PARTNER_AGENCY, agency_id=a) for a in ("tax", "public_security"))
OPERATOR = Principal("op-1", Role.OPERATOR)


def submitted(case: str = "C-1", applicant: str = "u-1", phone: str = "13912345678") -> reg.ApplicationSubmittedV1:
    return make(reg.ApplicationSubmittedV1, case, application_id=case, company_name="兰州一窗科技有限公司",
                applicant_id=applicant, applicant_phone=phone, channel="web")


def requested(case: str = "C-1", department: str = "tax") -> reg.StepRequestedV1:
    return make(reg.StepRequestedV1, case, step="tax", department=department, attempt=1, due_at=DUE, form=FORM)


class UseCases:
    """The use cases over one in-memory store, as bootstrap composes them."""

    def __init__(self) -> None:
        self.uow, self.clock, self.woken = unit_of_work(), FrozenClock(T0), list[int]()
        clock = self.clock
        self.repos = self.uow.repos
        self.seconds = 0.0  # the directory's monotonic clock
        self.directory: Directory = ReadCache(5.0, now=lambda: self.seconds)
        self.inbound = Inbound(uow=self.uow, rules=Rules(), clock=clock, trace_id=lambda: "trace-1",
                               on_new_work=lambda: self.woken.append(1), directory=self.directory)
        self.messages = Messages(uow=self.uow, clock=clock, on_change=self.directory.bump)
        self.partners = Partners(uow=self.uow, clock=clock, new_secret=lambda: "whsec_" + "A" * 43,
                                 outbound=OutboundPolicy(), feed_settle=timedelta(0), on_change=self.directory.bump)


# -- events in ------------------------------------------------------------------------------
async def test_an_event_has_one_effect_however_often_it_arrives():
    uc = UseCases()
    event = submitted()
    [m] = await uc.inbound.handle(event)
    assert (m.recipient_id, m.channel, m.address, m.trace_id) == ("u-1", "sms", "13912345678", "trace-1")
    assert await uc.inbound.handle(event) == []
    assert list(uc.repos.messages.docs) == [m.message_id] and uc.woken == [1]  # the dispatchers woken once
    assert uc.repos.cases.docs["C-1"].applicant_id == "u-1"
    assert uc.repos.contacts.docs["u-1"].phone == "13912345678"


async def test_a_later_event_reaches_the_applicant_the_case_file_knows():
    uc = UseCases()
    await uc.inbound.handle(submitted())
    [m] = await uc.inbound.handle(make(reg.StepApprovedV1, "C-1", step="licence", department="market_supervision"))
    assert m.recipient_id == "u-1" and m.template == "registration.step_approved@1"


async def test_agencies_get_their_own_private_events_masked_unless_entitled():
    uc = UseCases()
    tax = await uc.partners.subscribe(TAX, event_types=[reg.StepRequestedV1.ce_type], filters={},
                                   webhook_url="https://tax.example/hook", secret=None)
    await uc.partners.subscribe(POLICE, event_types=[reg.StepRequestedV1.ce_type], filters={},
                             webhook_url="https://police.example/hook", secret=None)
    await uc.inbound.handle(requested(department="tax"))
    [d] = uc.repos.deliveries.docs.values()
    assert (d.subscription_id, d.status) == (tax.subscription_id, DeliveryStatus.PENDING)
    assert '"id_number":"620102********1234"' in d.payload and '"caseno":"C-1"' in d.payload
    await uc.partners.set_agency("tax", departments=[], personal_data=True)
    await uc.inbound.handle(requested(department="tax"))
    assert sum("620102199001011234" in x.payload for x in uc.repos.deliveries.docs.values()) == 1


def counted(uc: UseCases) -> dict[str, int]:
    """How often the inbound reads subscriptions, agencies and contacts from the repositories."""
    calls = {"subscriptions": 0, "agencies": 0, "contacts": 0}
    for name, repo, method in [("subscriptions", uc.repos.subscriptions, "matching"),
                               ("agencies", uc.repos.agencies, "get_many"), ("contacts", uc.repos.contacts, "get_many")]:
        original = getattr(repo, method)

        async def read(*args, _original=original, _name=name):
            calls[_name] += 1
            return await _original(*args)

        setattr(repo, method, read)
    return calls


async def test_subscriptions_agencies_and_contacts_are_kept_across_fetches_until_a_write_here_or_the_ttl():
    uc = UseCases()
    await uc.partners.subscribe(TAX, event_types=[reg.StepApprovedV1.ce_type], filters={},
                                webhook_url="https://tax.example/hook", secret=None)
    await uc.inbound.handle(submitted())
    calls = counted(uc)

    def approved(step: str) -> reg.StepApprovedV1:
        return make(reg.StepApprovedV1, "C-1", step=step, department="tax")

    for step in ("licence", "seal", "tax"):
        [m] = await uc.inbound.handle(approved(step))
        assert m.address == "13912345678"
    assert calls == {"subscriptions": 1, "agencies": 1, "contacts": 1}  # read by the first fetch only
    assert len(uc.repos.deliveries.docs) == 3
    await uc.partners.set_agency("tax", departments=[], personal_data=True)  # a write here: seen at once
    await uc.inbound.handle(approved("social_security"))
    assert calls == {"subscriptions": 2, "agencies": 2, "contacts": 2}
    # another replica's write (straight into the store) is seen once the kept values are older than the TTL
    uc.repos.subscriptions.docs.clear()
    await uc.inbound.handle(approved("licence"))
    assert len(uc.repos.deliveries.docs) == 5
    uc.seconds += 5.0
    await uc.inbound.handle(approved("seal"))
    assert len(uc.repos.deliveries.docs) == 5 and calls["subscriptions"] == 3


async def test_a_phone_from_an_event_is_written_on_the_databases_copy_not_on_the_one_kept():
    """The contact kept from an earlier fetch says the event's phone is new; meanwhile another
    replica stored the person's own phone. The person's choice stays (one they set wins)."""
    uc = UseCases()
    await uc.inbound.handle(submitted("C-1"))
    await uc.inbound.handle(make(reg.StepApprovedV1, "C-1", step="licence", department="market_supervision"))
    stored = uc.repos.contacts.docs["u-1"]
    stored.phone, stored.phone_from_preferences = "13700000009", True  # set through another replica
    [m] = await uc.inbound.handle(submitted("C-2", phone="13912345000"))
    assert m.address == "13700000009"
    assert (uc.repos.contacts.docs["u-1"].phone, uc.repos.contacts.docs["u-1"].phone_from_preferences) == (
        "13700000009", True)


# -- reading messages -----------------------------------------------------------------------
async def test_an_applicant_sees_only_their_own_messages_staff_see_the_case():
    uc = UseCases()
    [mine] = await uc.inbound.handle(submitted("C-1", "u-1"))
    [theirs] = await uc.inbound.handle(submitted("C-2", "u-2"))
    assert [m.message_id for m in await uc.messages.for_case(APPLICANT, "C-1")] == [mine.message_id]
    assert await uc.messages.for_case(OTHER, "C-1") == []
    assert [m.message_id for m in await uc.messages.for_case(Principal("w-1", Role.WINDOW_STAFF), "C-2")] == [
        theirs.message_id]
    assert (await uc.messages.one(APPLICANT, mine.message_id)).case_number == "C-1"
    with pytest.raises(NotFound):
        await uc.messages.one(APPLICANT, theirs.message_id)
    assert [m.message_id for m in await uc.messages.mine(OTHER)] == [theirs.message_id]


async def test_staff_register_with_their_role_and_read_their_groups_inbox():
    uc = UseCases()
    reviewer = Principal("r-1", Role.REVIEWER, department="public_security")
    [group] = await uc.inbound.handle(requested(department="public_security"))  # nobody registered yet
    assert group.recipient_id == "reviewers:public_security"
    assert [m.message_id for m in await uc.messages.mine(reviewer)] == [group.message_id]
    contact = await uc.messages.set_preferences(reviewer, channels=["sms"], phone="13700000001", email=None,
                                             wechat_openid=None, quiet_hours=None)
    assert (contact.role, contact.department, contact.updated_at) == ("reviewer", "public_security", T0)
    assert (await uc.messages.preferences(reviewer)).phone == "13700000001"
    [direct] = await uc.inbound.handle(requested("C-2", department="public_security"))
    assert (direct.recipient_id, direct.address) == ("r-1", "13700000001")


# -- partner agencies -------------------------------------------------------------------------
async def test_an_agency_sees_only_its_own_subscriptions_and_entitlements():
    uc = UseCases()
    sub = await uc.partners.subscribe(TAX, event_types=[reg.StepRequestedV1.ce_type], filters={"step": "tax"},
                                   webhook_url=None, secret=None)
    assert (sub.agency_id, sub.secret) == ("tax", None)
    assert [s.subscription_id for s in await uc.partners.subscriptions(TAX)] == [sub.subscription_id]
    assert await uc.partners.subscriptions(POLICE) == []
    assert [s.subscription_id for s in await uc.partners.subscriptions(OPERATOR)] == [sub.subscription_id]
    sid = sub.subscription_id
    for call in (uc.partners.subscription(POLICE, sid), uc.partners.deliveries(POLICE, sid),
                 uc.partners.feed(POLICE, sid, None, 10), uc.partners.set_active(POLICE, sid, False),
                 uc.partners.agency(POLICE, "tax")):
        with pytest.raises(NotFound):  # another agency's: not found, never forbidden
            await call
    assert (await uc.partners.agency(TAX, "tax")).departments == frozenset({"tax"})
    assert (await uc.partners.subscription(OPERATOR, sub.subscription_id)).agency_id == "tax"


async def test_disabling_cancels_pending_deliveries_and_a_conflict_runs_again_on_fresh_state():
    uc = UseCases()
    sub = await uc.partners.subscribe(TAX, event_types=[reg.StepRequestedV1.ce_type], filters={},
                                   webhook_url="https://tax.example/hook", secret=None)
    await uc.inbound.handle(requested())
    uc.repos.subscriptions.conflicts = 1  # another writer saves between our read and our write, once
    off = await uc.partners.set_active(TAX, sub.subscription_id, False)
    assert off.status is SubscriptionStatus.DISABLED and uc.repos.subscriptions.conflicts == 0
    assert uc.repos.subscriptions.docs[sub.subscription_id].version == 2  # the other writer's, then ours
    assert [d.status for d in uc.repos.deliveries.docs.values()] == [DeliveryStatus.CANCELLED]
    uc.repos.subscriptions.conflicts = 99
    with pytest.raises(ConcurrentUpdate):  # retries spent: the API answers 409
        await uc.partners.set_active(TAX, sub.subscription_id, True)


async def test_switching_a_subscription_to_the_state_it_is_in_changes_nothing():
    uc = UseCases()
    sub = await uc.partners.subscribe(TAX, event_types=[reg.StepRequestedV1.ce_type], filters={},
                                      webhook_url="https://tax.example/hook", secret=None)
    on = await uc.partners.set_active(TAX, sub.subscription_id, True)  # enabled twice: as created
    stored = uc.repos.subscriptions.docs
    assert on.status is SubscriptionStatus.ACTIVE and stored[sub.subscription_id].version == sub.version  # not saved
    first = await uc.partners.set_active(TAX, sub.subscription_id, False)
    uc.clock.set(T0 + timedelta(minutes=5))
    again = await uc.partners.set_active(TAX, sub.subscription_id, False)  # a retry: keeps when and why
    assert (again.disabled_at, again.disabled_reason) == (first.disabled_at, first.disabled_reason) == (
        T0, "disabled by the agency")
    assert stored[sub.subscription_id].version == sub.version + 1  # saved once


# -- webhook dispatch -------------------------------------------------------------------------
class Gone:
    def __init__(self) -> None:
        self.posts: list[str] = []

    async def post(self, url, secret, webhook_id, payload, now) -> WebhookResponse:
        self.posts.append(webhook_id)
        return WebhookResponse(410, error="HTTP 410")


async def test_a_gone_receiver_disables_the_subscription_and_the_pass_drops_what_it_cancelled():
    uc = UseCases()
    sub = await uc.partners.subscribe(TAX, event_types=[reg.StepRequestedV1.ce_type], filters={},
                                   webhook_url="https://tax.example/hook", secret=None)
    await uc.inbound.handle(requested())
    await uc.inbound.handle(requested())
    sender = Gone()
    dispatch = WebhookDispatch(uow=uc.uow, clock=FrozenClock(T0), sender=sender, policy=WebhookPolicy(), concurrency=1)
    assert await dispatch.run_once() == 2  # both claimed; the second's outcome is dropped, not a conflict
    stored: Subscription = uc.repos.subscriptions.docs[sub.subscription_id]
    assert stored.status is SubscriptionStatus.DISABLED and "410 Gone" in (stored.disabled_reason or "")
    first, second = (uc.repos.deliveries.docs[i] for i in sender.posts)
    assert (first.status, first.last_status_code, first.attempts) == (DeliveryStatus.CANCELLED, 410, 1)
    assert (second.status, second.attempts, second.last_error) == (DeliveryStatus.CANCELLED, 0, stored.disabled_reason)
    assert uc.uow.emitted == []


async def test_the_rating_link_is_not_for_agencies_but_the_recorded_rating_is():
    """The invitation carries a single-use rating link: an agency may not subscribe to it; the
    provincial platform subscribes to the public rating-recorded event."""
    from contracts.events import ratings as rat
    from notifications.domain import InvalidRequest

    uc = UseCases()
    with pytest.raises(InvalidRequest) as refused:
        await uc.partners.subscribe(TAX, event_types=[rat.RatingInvitedV1.ce_type], filters={},
                                    webhook_url="https://province.example/hook", secret=None)
    assert "event_types.0" in str(refused.value.errors)
    sub = await uc.partners.subscribe(TAX, event_types=[rat.RatingRecordedV1.ce_type], filters={},
                                      webhook_url="https://province.example/hook", secret=None)
    assert sub.event_types == (rat.RatingRecordedV1.ce_type,)


class Accepting:
    def __init__(self) -> None:
        self.posts: list[str] = []

    async def post(self, url, secret, webhook_id, payload, now) -> WebhookResponse:
        self.posts.append(webhook_id)
        return WebhookResponse(200)


async def test_deliveries_due_now_are_inserted_claimed_and_handed_to_the_webhook_dispatcher():
    """No claim write of their own: the consumer's transaction inserts them claimed; the next
    pass posts them (reading their subscriptions); a pass of another replica cannot take them."""
    uc = UseCases()
    sender = Accepting()
    dispatch = WebhookDispatch(uow=uc.uow, clock=uc.clock, sender=sender, policy=WebhookPolicy(), concurrency=1)
    uc.inbound = Inbound(uow=uc.uow, rules=Rules(), clock=uc.clock, directory=uc.directory,
                         hand_over_deliveries=dispatch.take, delivery_claim=timedelta(seconds=60))
    await uc.partners.subscribe(TAX, event_types=[reg.StepRequestedV1.ce_type], filters={},
                                webhook_url="https://tax.example/hook", secret=None)
    await uc.inbound.handle(requested())
    [d] = uc.repos.deliveries.docs.values()
    assert d.delivery_id in uc.repos.deliveries.claims and d.due_at == T0 + timedelta(seconds=60)
    other = WebhookDispatch(uow=uc.uow, clock=uc.clock, sender=sender, policy=WebhookPolicy())
    assert await other.run_once() == 0  # claimed: not due for anyone else
    assert await dispatch.run_once() == 1 and sender.posts == [d.delivery_id]
    assert uc.repos.deliveries.docs[d.delivery_id].status is DeliveryStatus.DELIVERED
