"""Recipients: the contact directory (built from events and the preferences API), channel
preferences and quiet hours."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from contracts.vocabulary import PHONE_PATTERN
from notifications.domain.errors import InvalidRequest
from servicekit.clock import CN_TZ, ensure_utc

PHONE = re.compile(PHONE_PATTERN)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Channel(StrEnum):
    SMS = "sms"
    APP_PUSH = "app_push"
    WECHAT = "wechat"
    EMAIL = "email"


@dataclass(frozen=True)
class QuietHours:
    """A daily window in Beijing time during which non-urgent messages wait.

    ``start == end`` is an empty window (quiet hours off). The window may span midnight
    (22:00-08:00)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """``"22:00-08:00"``; ``"off"`` (or empty) for none."""
        text = text.strip()
        if text in ("", "off"):
            return OFF
        try:
            a, b = text.split("-")
            return cls(time.fromisoformat(a.strip()), time.fromisoformat(b.strip()))
        except ValueError as exc:
            raise InvalidRequest(f"quiet hours {text!r} are not HH:MM-HH:MM",
                                 [{"field": "quiet_hours", "message": "use HH:MM-HH:MM or off"}]) from exc

    def __str__(self) -> str:
        return "off" if self.start == self.end else f"{self.start:%H:%M}-{self.end:%H:%M}"

    def ends_at(self, now: datetime) -> datetime | None:
        """If ``now`` falls in the window, the instant (UTC) the window ends; else None."""
        if self.start == self.end:
            return None
        local = ensure_utc(now).astimezone(CN_TZ)
        t, day = local.time(), local.date()
        if self.start < self.end:
            inside, end_day = self.start <= t < self.end, day
        else:  # spans midnight
            inside = t >= self.start or t < self.end
            end_day = day + timedelta(days=1) if t >= self.start else day
        if not inside:
            return None
        return ensure_utc(datetime.combine(end_day, self.end, tzinfo=CN_TZ))

    def release_time(self, now: datetime, urgent: bool) -> datetime:
        """When a message created at ``now`` may go out: urgent ones at once."""
        return now if urgent else (self.ends_at(now) or now)


OFF = QuietHours(time(0), time(0))


@dataclass
class Contact:
    """What notifications knows about one recipient (an applicant or a staff member, or a
    staff group such as ``reviewers:tax`` that has nobody registered)."""

    recipient_id: str
    role: str = "applicant"
    department: str | None = None
    phone: str | None = None
    phone_from_preferences: bool = False
    email: str | None = None
    wechat_openid: str | None = None
    channels: tuple[Channel, ...] | None = None  # None: the service default
    quiet_hours: QuietHours | None = None  # None: the service default
    updated_at: datetime | None = None

    def learn_phone(self, phone: str | None, now: datetime) -> bool:
        """A phone number seen in an event; one the person set themselves wins. True if changed."""
        if not phone or self.phone_from_preferences or phone == self.phone:
            return False
        self.phone, self.updated_at = phone, now
        return True

    def set_preferences(self, *, channels: list[str], phone: str | None, email: str | None,
                        wechat_openid: str | None, quiet_hours: str | None, role: str, department: str | None,
                        now: datetime) -> None:
        """Replace the person's preferences; every problem is reported at once."""
        errors: list[dict[str, str]] = []
        chosen: list[Channel] = []
        for i, name in enumerate(channels):
            try:
                ch = Channel(name)
            except ValueError:
                errors.append({"field": f"channels.{i}", "message": f"unknown channel {name!r}"})
                continue
            if ch in chosen:
                errors.append({"field": f"channels.{i}", "message": f"{name} listed twice", "type": "unique_items"})
            chosen.append(ch)
        if not channels:
            errors.append({"field": "channels", "message": "choose at least one channel"})
        if phone is not None and not PHONE.match(phone):
            errors.append({"field": "phone", "message": "not a mainland mobile number"})
        if email is not None and not EMAIL.match(email):
            errors.append({"field": "email", "message": "not an email address"})
        needs = {Channel.SMS: ("phone", phone or self.phone), Channel.EMAIL: ("email", email),
                 Channel.WECHAT: ("wechat_openid", wechat_openid)}
        for ch in chosen:
            if ch in needs and not needs[ch][1]:
                errors.append({"field": needs[ch][0], "message": f"needed for the {ch.value} channel", "type": "form_rule"})
        hours: QuietHours | None = None
        if quiet_hours is not None:
            try:
                hours = QuietHours.parse(quiet_hours)
            except InvalidRequest as exc:
                errors.extend(exc.errors)
        if errors:
            raise InvalidRequest("invalid preferences", errors)
        if phone is not None:
            self.phone, self.phone_from_preferences = phone, True
        self.email, self.wechat_openid = email, wechat_openid
        self.channels, self.quiet_hours = tuple(chosen), hours
        self.role, self.department, self.updated_at = role, department, now

    def address(self, channel: Channel) -> str | None:
        return {Channel.SMS: self.phone, Channel.EMAIL: self.email, Channel.WECHAT: self.wechat_openid,
                Channel.APP_PUSH: self.recipient_id}[channel]

    def routes(self, default_channels: tuple[Channel, ...]) -> list[tuple[Channel, str]]:
        """The (channel, address) pairs to send on: the preferred channels that have an
        address; app push (addressed by account, always possible) when none has."""
        routes = [(ch, addr) for ch in (self.channels or default_channels) if (addr := self.address(ch))]
        return routes or [(Channel.APP_PUSH, self.recipient_id)]

    def effective_quiet_hours(self, default: QuietHours) -> QuietHours:
        return self.quiet_hours if self.quiet_hours is not None else default
