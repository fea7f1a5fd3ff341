"""Channel preferences, the contact directory and quiet hours (Beijing time)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.events import registration as reg
from notifications.domain import OFF, Channel, Contact, InvalidRequest, Notice, QuietHours, Rules, Target, messages_for
from servicekit.clock import CN_TZ


def bj(hour: int, minute: int = 0, day: int = 4) -> datetime:
    """A Beijing wall-clock time on March ``day`` 2026, as UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=CN_TZ).astimezone(UTC)


NIGHT = QuietHours(time(22), time(8))


@pytest.mark.parametrize(("now", "ends"), [
    (bj(23), bj(8, day=5)),   # late evening: until tomorrow 08:00
    (bj(2), bj(8)),           # small hours: until 08:00 today
    (bj(22), bj(8, day=5)),   # the first minute is quiet
    (bj(8), None),            # 08:00 is no longer quiet
    (bj(12), None),
    (bj(21, 59), None),
])
def test_quiet_hours_spanning_midnight(now, ends):
    assert NIGHT.ends_at(now) == ends


def test_quiet_hours_within_a_day_and_off():
    lunch = QuietHours(time(12), time(14))
    assert lunch.ends_at(bj(13)) == bj(14)
    assert lunch.ends_at(bj(14)) is None and lunch.ends_at(bj(11)) is None
    assert OFF.ends_at(bj(3)) is None
    assert QuietHours.parse("off") == OFF and QuietHours.parse("22:00-08:00") == NIGHT and str(NIGHT) == "22:00-08:00"
    with pytest.raises(InvalidRequest):
        QuietHours.parse("tonight")


def test_non_urgent_messages_wait_urgent_ones_do_not():
    assert NIGHT.release_time(bj(23), urgent=False) == bj(8, day=5)
    assert NIGHT.release_time(bj(23), urgent=True) == bj(23)
    assert NIGHT.release_time(bj(10), urgent=False) == bj(10)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
       st.times(), st.times())
def test_release_is_never_early_never_in_quiet_hours_and_at_most_a_day_later(now, start, end):
    hours = QuietHours(start.replace(microsecond=0, second=0), end.replace(microsecond=0, second=0))
    release = hours.release_time(now, urgent=False)
    assert now <= release <= now + timedelta(days=1)
    assert hours.ends_at(release) is None


def test_preferences_are_validated_all_at_once():
    c = Contact("u-1")
    with pytest.raises(InvalidRequest) as err:
        c.set_preferences(channels=["sms", "email", "fax", "sms"], phone=None, email="not-an-email", wechat_openid=None,
                          quiet_hours="soon", role="applicant", department=None, now=bj(10))
    fields = {e["field"] for e in err.value.errors}
    assert fields == {"channels.2", "channels.3", "phone", "email", "quiet_hours"}
    assert c.channels is None  # nothing changed


def test_preferences_choose_channels_and_addresses():
    c = Contact("u-1")
    c.set_preferences(channels=["email", "wechat", "sms"], phone="13912345678", email="zhang@example.cn",
                      wechat_openid="oABC123", quiet_hours="off", role="applicant", department=None, now=bj(10))
    assert c.routes((Channel.SMS,)) == [(Channel.EMAIL, "zhang@example.cn"), (Channel.WECHAT, "oABC123"),
                                        (Channel.SMS, "13912345678")]
    assert c.effective_quiet_hours(NIGHT) == OFF


def test_a_phone_from_events_fills_in_but_never_overrides_the_persons_choice():
    c = Contact("u-1")
    assert c.learn_phone("13900000001", bj(10)) and c.phone == "13900000001"
    c.set_preferences(channels=["sms"], phone="13900000002", email=None, wechat_openid=None, quiet_hours=None,
                      role="applicant", department=None, now=bj(11))
    assert not c.learn_phone("13900000003", bj(12))
    assert c.phone == "13900000002"


def test_sms_preference_may_use_the_phone_already_known_from_the_application():
    c = Contact("u-1", phone="13900000001")
    c.set_preferences(channels=["sms", "app_push"], phone=None, email=None, wechat_openid=None, quiet_hours=None,
                      role="applicant", department=None, now=bj(10))
    assert c.routes(()) == [(Channel.SMS, "13900000001"), (Channel.APP_PUSH, "u-1")]


def test_without_any_reachable_preferred_channel_the_app_push_still_reaches_the_account():
    assert Contact("u-1").routes((Channel.SMS,)) == [(Channel.APP_PUSH, "u-1")]


def _approved() -> reg.StepApprovedV1:
    return reg.StepApprovedV1(source="/t", subject="C-1", case_number="C-1", time=bj(23), step="licence",
                              department="market_supervision")


def test_messages_wait_for_each_recipients_own_quiet_hours():
    rules = Rules(default_quiet_hours=NIGHT)
    night_owl = Contact("u-2", phone="13900000002", channels=(Channel.SMS,), quiet_hours=OFF)
    sleeper = Contact("u-1", phone="13900000001", channels=(Channel.SMS, Channel.APP_PUSH))
    notice = Notice("registration.step_approved", Target.person("u-1"),
                    {"case_number": "C-1", "step_name": "营业执照登记", "department_name": "市场监管局"})
    event = _approved()
    msgs = messages_for(notice, [sleeper, night_owl], event, rules, bj(23), "t-1")
    by = {(m.recipient_id, m.channel): m for m in msgs}
    assert set(by) == {("u-1", "sms"), ("u-1", "app_push"), ("u-2", "sms")}
    assert by["u-1", "sms"].due_at == by["u-1", "app_push"].due_at == bj(8, day=5)
    assert by["u-2", "sms"].due_at == bj(23)
    assert by["u-1", "sms"].expires_at == bj(8, day=5) + timedelta(hours=24)  # expiry counts from release
    assert by["u-1", "sms"].text.startswith("【一窗通办】") and not by["u-1", "app_push"].text.startswith("【")
    assert "quiet hours" in by["u-1", "sms"].history[0].note
    # deterministic ids: the same event never makes a second message for the same recipient and channel
    redelivered = reg.StepApprovedV1.from_wire(*event.to_wire())
    again = messages_for(notice, [sleeper, night_owl], redelivered, rules, bj(23), None)
    assert {m.message_id for m in again} == {m.message_id for m in msgs}
