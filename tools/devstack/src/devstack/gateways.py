"""Local stand-ins for the notification providers, in one process:

- an HTTP gateway (the shape of an SMS / push gateway API) at ``--http-port``: each path
  prefix is one provider (``/sms-a``, ``/sms-b``, ``/push-a``, ...). ``POST
  /<provider>/messages`` takes ``{to, text, title, reference, case_number}`` and answers
  ``{id, status}``; an ``Idempotency-Key`` seen before is answered again without a
  second message. ``POST /<provider>/cgi-bin/message/subscribe/send`` takes a WeChat
  mini-program subscribe message and answers ``{errcode, errmsg, msgid}``.
- an SMTP server (aiosmtpd) at ``--smtp-port`` that keeps every email it receives;
  recipients ``nobody@...`` are refused with 550.

What the "phones" and "mailboxes" got is readable at ``GET /received`` and ``GET /mail``
(filters ``provider``, ``to``, ``case_number``). ``POST /faults`` makes a provider fail
its next requests (``{"provider": "sms-a", "count": 2, "status": 503}``) so failover and
retries can be watched.

With ``--journal FILE`` every SMS / push / WeChat message received is appended to FILE (JSON
lines) and read back at start: what the phones got, and the ``Idempotency-Key``s seen,
survive a restart of the platform, as at a real provider (``make run`` keeps it in
``var/gateways/received.jsonl``; the fault suite counts messages across crashes with it).

Run: ``python -m devstack.gateways --http-port 8090 --smtp-port 8025`` (the defaults the
notifications service is configured for).
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

from devstack.servers import free_port, spawn, stop_process, wait_port

DEFAULT_HTTP_PORT, DEFAULT_SMTP_PORT = 8090, 8025


@dataclass
class Store:
    received: list[dict[str, Any]] = field(default_factory=list)
    mail: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: dict[str, list[int]] = field(default_factory=dict)
    seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    journal: Path | None = None

    def load(self) -> None:
        """Read back what an earlier run received (``--journal``)."""
        if self.journal is None or not self.journal.exists():
            return
        last = 0
        for line in self.journal.read_text(encoding="utf-8").splitlines():
            try:
                key, item = json.loads(line)
            except ValueError:  # a line cut short by a crash
                continue
            self.received.append(item)
            if key:
                self.by_key[key] = item
            last = max(last, int(str(item.get("id", "0")).rsplit("-", 1)[-1] or 0))
        self.seq = itertools.count(last + 1)

    def keep(self, key: str | None, item: dict[str, Any]) -> None:
        if self.journal is not None:
            with open(self.journal, "a", encoding="utf-8") as f:
                f.write(json.dumps([key, item], ensure_ascii=False) + "\n")

    def fault(self, provider: str) -> int | None:
        pending = self.faults.get(provider)
        return pending.pop(0) if pending else None


def _match(item: dict[str, Any], **filters: str | None) -> bool:
    for k, v in filters.items():
        if v is None:
            continue
        have = item.get(k)
        if (v not in have) if isinstance(have, list) else (have != v):
            return False
    return True


class MailHandler:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower().startswith("nobody@"):
            return "550 5.1.1 no such user"
        if self.store.fault("smtp") is not None:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        msg = email.message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=email.policy.default)
        body = msg.get_body(("plain",))
        self.store.mail.append({
            "id": next(self.store.seq), "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
            "subject": str(msg["Subject"] or ""), "text": body.get_content() if body else "",
            "message_id": str(msg["Message-ID"] or ""), "case_number": msg["X-OneWindow-Case"],
            "reference": msg["X-OneWindow-Message"], "received_at": datetime.now(UTC).isoformat(),
        })
        return "250 Message accepted for delivery"


def create_app(smtp_host: str = "127.0.0.1", smtp_port: int | None = DEFAULT_SMTP_PORT,
               journal: Path | None = None) -> FastAPI:
    store = Store(journal=journal)
    store.load()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server = None
        if smtp_port is not None:
            handler = MailHandler(store)
            server = await asyncio.get_running_loop().create_server(
                lambda: SMTP(handler, enable_SMTPUTF8=True, hostname="onewindow.local"), smtp_host, smtp_port)
        try:
            yield
        finally:
            if server is not None:
                server.close()
                await server.wait_closed()

    app = FastAPI(title="One Window — local provider gateways (SMS, push, WeChat, SMTP)", lifespan=lifespan)
    app.state.store = store

    def record(provider: str, channel: str, key: str | None, item: dict[str, Any]) -> dict[str, Any]:
        if key and key in store.by_key:
            return store.by_key[key]
        item = {"id": f"{provider}-{next(store.seq)}", "provider": provider, "channel": channel,
                "received_at": datetime.now(UTC).isoformat(), **item}
        store.received.append(item)
        if key:
            store.by_key[key] = item
        store.keep(key, item)
        return item

    @app.post("/{provider}/messages")
    async def message(provider: str, request: Request,
                      idempotency_key: str | None = Header(default=None)) -> JSONResponse:
        if (status := store.fault(provider)) is not None:
            return JSONResponse({"error": "injected fault"}, status_code=status)
        body = await request.json()
        if not body.get("to") or not body.get("text"):
            return JSONResponse({"error": "to and text are required"}, status_code=422)
        item = record(provider, "push" if provider.startswith("push") else "sms", idempotency_key,
                      {k: body.get(k) for k in ("to", "text", "title", "reference", "case_number")})
        return JSONResponse({"id": item["id"], "status": "accepted"})

    @app.post("/{provider}/cgi-bin/message/subscribe/send")
    async def wechat(provider: str, request: Request) -> JSONResponse:
        if (status := store.fault(provider)) is not None:
            return JSONResponse({"errcode": -1, "errmsg": "system busy"}, status_code=status)
        body = await request.json()
        if not body.get("touser"):
            return JSONResponse({"errcode": 40003, "errmsg": "invalid openid"})
        item = record(provider, "wechat", body.get("reference"),
                      {"to": body["touser"], "text": body.get("text"), "template_id": body.get("template_id"),
                       "data": body.get("data"), "reference": body.get("reference"),
                       "case_number": (body.get("data") or {}).get("character_string2", {}).get("value")})
        return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": item["id"]})

    @app.get("/received")
    async def received(provider: str | None = None, to: str | None = None,
                       case_number: str | None = None) -> list[dict[str, Any]]:
        return [i for i in store.received if _match(i, provider=provider, to=to, case_number=case_number)]

    @app.get("/mail")
    async def mail(to: str | None = None, case_number: str | None = None) -> list[dict[str, Any]]:
        return [m for m in store.mail if _match(m, to=to, case_number=case_number)]

    @app.post("/faults")
    async def faults(request: Request) -> dict[str, Any]:
        body = await request.json()
        store.faults.setdefault(body["provider"], []).extend([int(body.get("status", 503))] * int(body.get("count", 1)))
        return {"faults": store.faults}

    @app.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        store.faults.clear()
        return {"faults": {}}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@dataclass
class GatewayProcess:
    """The gateways as a separate process (tests; ``make run`` uses the module directly)."""

    http_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    log_path: Path | None = None
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 30) -> GatewayProcess:
        self.proc = spawn([sys.executable, "-m", "devstack.gateways", "--http-port", str(self.http_port),
                           "--smtp-port", str(self.smtp_port)], self.log_path, os.environ.copy())
        wait_port("127.0.0.1", self.http_port, timeout, self.proc, "gateways")
        wait_port("127.0.0.1", self.smtp_port, timeout, self.proc, "smtp")
        return self

    def provider_settings(self) -> dict[str, list[dict[str, str]]]:
        """The notifications service's provider settings pointing at these gateways."""

        def http(*names: str) -> list[dict[str, str]]:
            return [{"name": n, "url": f"{self.url}/{n}", "template_id": "onewindow-progress"} for n in names]

        return {"sms_providers": http("sms-a", "sms-b"), "push_providers": http("push-a"),
                "wechat_providers": http("wechat"),
                "email_providers": [{"name": "smtp-local", "url": f"smtp://127.0.0.1:{self.smtp_port}"}]}

    def settings_env(self, prefix: str = "NOTIFICATIONS_") -> dict[str, str]:
        """The same, as environment variables (for the service run as a process)."""
        return {f"{prefix}{k.upper()}": json.dumps(v) for k, v in self.provider_settings().items()}

    def received(self, **filters: str) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/received", params=filters, timeout=5).json()

    def mail(self, **filters: str) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/mail", params=filters, timeout=5).json()

    def fail(self, provider: str, count: int = 1, status: int = 503) -> None:
        httpx.post(f"{self.url}/faults", json={"provider": provider, "count": count, "status": status}, timeout=5)

    def stop(self) -> None:
        stop_process(self.proc)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default=os.environ.get("GATEWAYS_HOST", "127.0.0.1"))
    p.add_argument("--http-port", type=int, default=int(os.environ.get("GATEWAYS_HTTP_PORT", DEFAULT_HTTP_PORT)))
    p.add_argument("--smtp-port", type=int, default=int(os.environ.get("GATEWAYS_SMTP_PORT", DEFAULT_SMTP_PORT)))
    p.add_argument("--journal", type=Path, default=None,
                   help="append every message received to this file (JSON lines) and read it back at start")
    args = p.parse_args(argv)
    if args.journal is not None:
        args.journal.parent.mkdir(parents=True, exist_ok=True)
    print(f"gateways: HTTP http://{args.host}:{args.http_port}  SMTP {args.host}:{args.smtp_port}", flush=True)
    uvicorn.run(create_app(args.host, args.smtp_port, args.journal), host=args.host, port=args.http_port, log_level="warning")


if __name__ == "__main__":
    main()
