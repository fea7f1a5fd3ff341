"""Provider adapters: one interface (``send(Outgoing) -> reference``), one adapter per
kind of provider, several providers per channel in failover order.

- :class:`HttpGatewayProvider` (SMS and app push): ``POST {url}/messages`` with a JSON
  body ``{to, text, title, reference}``, a bearer API key and an ``Idempotency-Key``
  (the message id), the shape of common SMS / push gateway APIs. 2xx: accepted
  (``id`` in the answer is the reference); 400/422: the message is rejected for good
  (e.g. an invalid number); anything else, or no answer: the provider failed, retry.
- :class:`WeChatProvider`: the WeChat mini-program subscribe message API
  (``POST {url}/cgi-bin/message/subscribe/send?access_token=...``, answer ``errcode``).
- :class:`SmtpProvider` (email): a real SMTP client (aiosmtplib) to a relay.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import urlsplit

import aiosmtplib
import httpx

from notifications.config import ProviderSpec, Settings
from notifications.domain import Channel, ProviderError
from notifications.ports import Outgoing

PERMANENT_HTTP = frozenset({400, 422})  # the gateway rejects this message itself


class HttpGatewayProvider:
    def __init__(self, spec: ProviderSpec, client: httpx.AsyncClient) -> None:
        self.name, self.url, self.api_key, self.client = spec.name, spec.url.rstrip("/"), spec.api_key, client

    async def send(self, message: Outgoing) -> str | None:
        body = {"to": message.address, "text": message.text, "title": message.title,
                "reference": message.message_id, "case_number": message.case_number}
        headers = {"Idempotency-Key": message.message_id}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            resp = await self.client.post(f"{self.url}/messages", json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        if resp.is_success:
            return str(_json(resp).get("id") or "") or None
        raise ProviderError(f"{self.name}: HTTP {resp.status_code} {resp.text[:200]}",
                            permanent=resp.status_code in PERMANENT_HTTP)


class WeChatProvider:
    """WeChat subscribe messages carry short typed fields: title, case number, text."""

    # errcode 43101: the user has not subscribed (refused); 40003: invalid openid.
    PERMANENT_ERRCODES = frozenset({40003, 43101, 47003})

    def __init__(self, spec: ProviderSpec, client: httpx.AsyncClient) -> None:
        self.name, self.url, self.client = spec.name, spec.url.rstrip("/"), client
        self.access_token, self.template_id = spec.api_key, spec.template_id

    async def send(self, message: Outgoing) -> str | None:
        body = {"touser": message.address, "template_id": self.template_id,
                "page": f"pages/case/detail?case={message.case_number}", "lang": "zh_CN",
                "data": {"thing1": {"value": message.title[:20]},
                         "character_string2": {"value": message.case_number[:32]},
                         "thing3": {"value": message.text[:20]}},
                "text": message.text, "reference": message.message_id}
        try:
            resp = await self.client.post(f"{self.url}/cgi-bin/message/subscribe/send",
                                          params={"access_token": self.access_token}, json=body)
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        answer = _json(resp)
        if resp.is_success and answer.get("errcode", 0) == 0:
            return str(answer.get("msgid") or "") or None
        code = answer.get("errcode")
        raise ProviderError(f"{self.name}: HTTP {resp.status_code} errcode {code} {answer.get('errmsg', '')}",
                            permanent=code in self.PERMANENT_ERRCODES)


class SmtpProvider:
    def __init__(self, spec: ProviderSpec, sender: str, timeout: float) -> None:
        parts = urlsplit(spec.url)
        self.name, self.sender, self.timeout = spec.name, sender, timeout
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or (465 if parts.scheme == "smtps" else 25)
        self.use_tls = parts.scheme == "smtps"
        self.username, self.password = spec.username or None, spec.api_key or None

    async def send(self, message: Outgoing) -> str | None:
        mail = EmailMessage()
        mail["From"], mail["To"] = self.sender, message.address
        mail["Subject"] = f"【一窗通办】{message.title}（{message.case_number}）"
        mail["Message-ID"] = make_msgid(idstring=message.message_id, domain="onewindow.local")
        mail["X-OneWindow-Case"], mail["X-OneWindow-Message"] = message.case_number, message.message_id
        mail.set_content(f"{message.text}\n\n办件号：{message.case_number}\n（本邮件由系统发送，请勿直接回复。）")
        try:
            await aiosmtplib.send(mail, hostname=self.host, port=self.port, use_tls=self.use_tls,
                                  username=self.username, password=self.password, timeout=self.timeout)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise ProviderError(f"{self.name}: recipient refused {codes}", permanent=all(c >= 500 for c in codes)) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ProviderError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        return str(mail["Message-ID"])


def _json(resp: httpx.Response) -> dict:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class ProviderDirectory:
    """The configured providers by channel (failover order) and by name."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self._by_name: dict[str, HttpGatewayProvider | WeChatProvider | SmtpProvider] = {}
        self._by_channel: dict[str, list[str]] = {}
        specs = {Channel.SMS: settings.sms_providers, Channel.APP_PUSH: settings.push_providers,
                 Channel.WECHAT: settings.wechat_providers, Channel.EMAIL: settings.email_providers}
        for channel, providers in specs.items():
            for spec in providers:
                if spec.name in self._by_name:
                    raise ValueError(f"provider name {spec.name!r} is used twice")
                if channel is Channel.EMAIL:
                    self._by_name[spec.name] = SmtpProvider(spec, settings.email_from, settings.provider_timeout_seconds)
                elif channel is Channel.WECHAT:
                    self._by_name[spec.name] = WeChatProvider(spec, client)
                else:
                    self._by_name[spec.name] = HttpGatewayProvider(spec, client)
                self._by_channel.setdefault(channel.value, []).append(spec.name)

    def names(self, channel: str) -> list[str]:
        return list(self._by_channel.get(channel, []))

    async def send(self, provider: str, message: Outgoing) -> str | None:
        return await self._by_name[provider].send(message)
