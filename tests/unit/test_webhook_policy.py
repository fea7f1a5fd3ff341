"""Partner-agency rules: webhook retry schedule (Retry-After, 410, dead letter), signatures
per Standard Webhooks, subscription filters, agency boundaries, masking, feed cursor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from contracts.events import registration as reg
from contracts.events.notifications import WebhookDeadLetteredV1
from notifications.domain import (
    Agency,
    Delivery,
    DeliveryStatus,
    FeedCursor,
    InvalidRequest,
    Outcome,
    Subscription,
    WebhookDeadLettered,
    WebhookPolicy,
    event_attributes,
    redact,
)
from notifications.service import SOURCE, structured
from notifications.service.events import alerts
from notifications.webhooks import new_secret, parse_retry_after, signed_headers
from servicekit.outbound import OutboundPolicy

T0 = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
FAST = WebhookPolicy(schedule_seconds=(1, 2, 4), jitter=0.0, max_retry_after_seconds=60)
STEP_TYPE = reg.StepRequestedV1.ce_type


def requested(department: str = "public_security", **kw) -> reg.StepRequestedV1:
    form = {"legal_representative": {"name": "王五", "id_number": "620102199001011234", "phone": "13912345678"},
            "note": "联系电话 13987654321"}
    return reg.StepRequestedV1(source="/one-window/registration", subject="C-1", case_number="C-1", time=T0,
                               step="seal", department=department, attempt=1, due_at=T0, form=form, **kw)


def agency_payload(event, *, entitled: bool) -> str:
    """What an agency receives (webhook body, feed entry): data masked unless entitled."""
    return structured(event, redact(event.data(), entitled=entitled))


def subscription(**kw) -> Subscription:
    args = {"subscription_id": "sub_1", "agency_id": "public_security", "event_types": [STEP_TYPE], "filters": {},
            "webhook_url": "https://agency.example/hook", "secret": new_secret(), "now": T0,
            "check_url": OutboundPolicy().refusal}
    return Subscription.create(**(args | kw))


# -- retry schedule -----------------------------------------------------------------------------
def test_default_schedule_spans_about_a_day():
    total = sum(WebhookPolicy().schedule_seconds)
    assert 24 * 3600 <= total <= 30 * 3600 and WebhookPolicy().max_attempts == 8


def test_retry_after_is_honoured_but_capped():
    assert FAST.wait_after(1, None, 0.5) == timedelta(seconds=1)
    assert FAST.wait_after(1, 30, 0.5) == timedelta(seconds=30)  # the receiver asked for longer
    assert FAST.wait_after(2, 0.5, 0.5) == timedelta(seconds=2)  # never shorter than the schedule
    assert FAST.wait_after(1, 10_000, 0.5) == timedelta(seconds=60)
    assert FAST.wait_after(4, None, 0.5) is None  # the last try


def test_jitter_stays_within_bounds():
    policy = WebhookPolicy(schedule_seconds=(100,), jitter=0.1)
    assert policy.wait_after(1, None, 0.0) == timedelta(seconds=90)
    assert policy.wait_after(1, None, 1.0) == timedelta(seconds=110)


def test_delivery_retries_then_is_dead_lettered_with_an_alert():
    event = requested()
    d = Delivery.fan_out(subscription(), event, "{}", T0)
    assert d.status is DeliveryStatus.PENDING and d.is_due(T0)
    now, outcomes = T0, []
    for _ in range(FAST.max_attempts):
        d.start_attempt(now, FAST)
        outcomes.append(d.failed(now, status_code=503, error="busy", retry_after=None, policy=FAST, rand=0.5))
        now = d.due_at or now
    assert outcomes == [Outcome.RETRY] * 3 + [Outcome.DEAD_LETTERED]
    assert d.status is DeliveryStatus.DEAD_LETTERED and d.attempts == 4 and len(d.history) == 4
    [fact] = d.pull_events()
    assert isinstance(fact, WebhookDeadLettered)
    assert (fact.webhook_id, fact.agency_id, fact.attempts, fact.last_status_code) == (
        d.delivery_id, "public_security", 4, 503)
    [alert] = alerts([fact], case_number=d.case_number, cause_id=d.event_id, now=now)
    assert isinstance(alert, WebhookDeadLetteredV1)
    assert (alert.source, alert.case_number, alert.causation_id, alert.source_event_id, alert.event_type) == (
        SOURCE, "C-1", event.event_id, event.event_id, STEP_TYPE)


def test_410_cancels_and_2xx_delivers():
    gone = Delivery.fan_out(subscription(), requested(), "{}", T0)
    gone.start_attempt(T0, FAST)
    assert gone.failed(T0, status_code=410, error="gone", retry_after=None, policy=FAST, rand=0) is Outcome.GONE
    assert gone.status is DeliveryStatus.CANCELLED and gone.due_at is None
    ok = Delivery.fan_out(subscription(), requested(), "{}", T0)
    ok.start_attempt(T0, FAST)
    assert ok.succeeded(T0, 204) is Outcome.DELIVERED and ok.status is DeliveryStatus.DELIVERED


def test_the_last_failure_is_kept_after_a_later_success_for_the_health_figures():
    d = Delivery.fan_out(subscription(), requested(), "{}", T0)
    d.start_attempt(T0, FAST)
    d.failed(T0 + timedelta(seconds=1), status_code=503, error="HTTP 503", retry_after=None, policy=FAST, rand=0.5)
    d.start_attempt(T0 + timedelta(seconds=2), FAST)
    d.succeeded(T0 + timedelta(seconds=3), 204)
    assert d.last_error is None and d.delivered_at == T0 + timedelta(seconds=3)
    assert (d.last_failure_at, d.last_failure_reason) == (T0 + timedelta(seconds=1), "HTTP 503")


def test_the_webhook_id_is_stable_per_subscription_and_event():
    event = requested()
    a = Delivery.fan_out(subscription(), event, "{}", T0)
    b = Delivery.fan_out(subscription(), event, "{}", T0 + timedelta(hours=1))
    c = Delivery.fan_out(subscription(subscription_id="sub_2"), event, "{}", T0)
    assert a.delivery_id == b.delivery_id != c.delivery_id and a.delivery_id.startswith("msg_")


def test_a_pull_only_subscription_fills_the_feed_without_pushing():
    d = Delivery.fan_out(subscription(webhook_url=None, secret=None), requested(), "{}", T0)
    assert d.status is DeliveryStatus.FEED_ONLY and not d.is_due(T0)


# -- signatures ---------------------------------------------------------------------------------
def test_signed_headers_verify_with_the_standard_webhooks_library():
    secret, payload = new_secret(), agency_payload(requested(), entitled=False)
    now = datetime.now(UTC)
    headers = signed_headers(secret, "msg_1", payload, now)
    assert set(headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(payload.encode(), headers)["id"] == json.loads(payload)["id"]
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(payload.encode(), headers)  # another secret
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(payload.replace("C-1", "C-2").encode(), headers)  # tampered body


@pytest.mark.parametrize(("header", "seconds"), [("120", 120.0), (None, None), ("soon", None),
                                                 ("Wed, 04 Mar 2026 02:01:00 GMT", 60.0)])
def test_retry_after_header_as_seconds_or_date(header, seconds):
    assert parse_retry_after(header, T0) == seconds


# -- subscriptions, boundaries, masking ---------------------------------------------------------
def test_subscriptions_validate_everything_at_once():
    with pytest.raises(InvalidRequest) as err:
        Subscription.create(subscription_id="s", agency_id="tax", event_types=["no.such.type"],
                            filters={"Bad Key": "x"}, webhook_url="ftp://x", secret=None, now=T0,
                            check_url=OutboundPolicy().refusal)
    assert {e["field"] for e in err.value.errors} == {"event_types.0", "filters.Bad Key", "webhook_url", "secret"}
    with pytest.raises(InvalidRequest):
        subscription(webhook_url="http://plain.example/hook")  # http only where allowed
    dev = OutboundPolicy(allow_http=True, allow=("127.0.0.1:9000",))
    assert subscription(webhook_url="http://127.0.0.1:9000/hook", check_url=dev.refusal).webhook_url
    with pytest.raises(InvalidRequest):
        subscription(webhook_url="http://127.0.0.1:9001/hook", check_url=dev.refusal)  # another port


def test_filters_match_event_attributes():
    attrs = event_attributes(requested())
    assert attrs["department"] == "public_security" and attrs["type"] == STEP_TYPE and attrs["case_number"] == "C-1"
    assert subscription().matches(STEP_TYPE, attrs)
    assert subscription(filters={"step": ["seal", "tax"]}).matches(STEP_TYPE, attrs)
    assert not subscription(filters={"step": "tax"}).matches(STEP_TYPE, attrs)
    assert not subscription().matches(reg.StepApprovedV1.ce_type, attrs)
    off = subscription()
    off.disable(T0, "by the agency")
    assert off.matches(STEP_TYPE, attrs)  # still recorded while disabled (for the feed) ...
    held = Delivery.fan_out(off, requested(), "{}", T0)
    assert held.status is DeliveryStatus.FEED_ONLY and not held.is_due(T0)  # ... but never pushed


def test_an_agency_never_receives_another_agencys_private_events():
    own, other = event_attributes(requested("public_security")), event_attributes(requested("tax"))
    public = event_attributes(reg.LicenceIssuedV1(source="/r", subject="C-1", case_number="C-1", company_name="X",
                                                  unified_social_credit_code="9162", applicant_id="u-1",
                                                  kind="change", issued_at=T0))
    police = Agency.default("public_security")
    assert police.may_receive(own) and police.may_receive(public) and not police.may_receive(other)
    assert Agency("city-hub", frozenset({"tax", "public_security"})).may_receive(other)


def test_id_and_phone_numbers_are_masked_unless_entitled():
    event = requested()
    masked = json.loads(agency_payload(event, entitled=False))
    person = masked["data"]["form"]["legal_representative"]
    assert person["id_number"] == "620102********1234" and person["phone"] == "139****5678"
    assert masked["data"]["form"]["note"] == "联系电话 139****4321"
    assert person["name"] == "王五"
    clear = json.loads(agency_payload(event, entitled=True))
    assert clear["data"]["form"]["legal_representative"]["id_number"] == "620102199001011234"
    # CloudEvents structured mode
    assert {clear[k] for k in ("specversion", "id", "type", "subject", "caseno")} == {
        "1.0", event.event_id, STEP_TYPE, "C-1"}
    # a personal field in an unknown format is blanked rather than leaked
    assert redact({"mobile": "+86-139-1234-5678", "id_no": 12345}, entitled=False) == {
        "mobile": "*" * 17, "id_no": "*****"}


def test_feed_cursor_round_trips_and_rejects_garbage():
    cursor = FeedCursor(T0, "msg_abc")
    assert FeedCursor.decode(cursor.encode()) == cursor
    with pytest.raises(InvalidRequest):
        FeedCursor.decode("%%%not-a-cursor")
