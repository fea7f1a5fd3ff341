"""A partner agency's webhook receiver, as a separate process: what an agency would run.

It verifies every request with the Standard Webhooks library (``standardwebhooks``:
``webhook-id``, ``webhook-timestamp``, ``webhook-signature``, HMAC-SHA256 with the
``whsec_`` secret) and answers 401 to a bad signature. It deduplicates on
``webhook-id``, so it takes every event exactly once even though delivery is at least
once. For tests it can fail the first N tries of each webhook (``--fail-first``, with
``--fail-status`` and an optional ``--retry-after``), or answer 410 Gone (``--gone``).

Run: ``python -m devstack.webhook_receiver --port 9000 --secret whsec_...`` (or the
secret in ``WEBHOOK_SECRET``). Webhooks go to ``POST /webhook``; ``GET /received``
tells what was taken (``events``, in arrival order), the ``attempts`` per webhook-id,
the ``duplicates`` ignored and the ``rejected`` (bad signature) count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook, WebhookVerificationError

from devstack.servers import free_port, spawn, stop_process, wait_port


@dataclass
class ReceiverState:
    events: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    attempts: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    rejected: int = 0


def create_app(secret: str, *, fail_first: int = 0, fail_status: int = 503, retry_after: str | None = None,
               gone: bool = False) -> FastAPI:
    verifier = Webhook(secret)
    state = ReceiverState()
    app = FastAPI(title="Partner agency webhook receiver (Standard Webhooks)")

    @app.post("/webhook")
    async def webhook(request: Request) -> Response:
        body = await request.body()
        try:
            event = verifier.verify(body, dict(request.headers))
        except WebhookVerificationError as exc:
            state.rejected += 1
            return Response(f"bad signature: {exc}", status_code=401)
        webhook_id = request.headers["webhook-id"]
        state.attempts[webhook_id] = tries = state.attempts.get(webhook_id, 0) + 1
        if gone:
            return Response(status_code=410)
        if tries <= fail_first:
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return Response("not now", status_code=fail_status, headers=headers)
        if webhook_id in state.seen:
            state.duplicates += 1
            return Response(status_code=204)
        state.seen.add(webhook_id)
        state.events.append({"webhook_id": webhook_id, "event": event})
        return Response(status_code=204)

    @app.get("/received")
    async def received() -> dict[str, Any]:
        return {"events": state.events, "attempts": state.attempts, "duplicates": state.duplicates,
                "rejected": state.rejected}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@dataclass
class ReceiverProcess:
    """Start the receiver as its own process (tests)."""

    secret: str
    fail_first: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    gone: bool = False
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def start(self, timeout: float = 30) -> ReceiverProcess:
        cmd = [sys.executable, "-m", "devstack.webhook_receiver", "--port", str(self.port),
               "--fail-first", str(self.fail_first), "--fail-status", str(self.fail_status)]
        if self.retry_after is not None:
            cmd += ["--retry-after", self.retry_after]
        if self.gone:
            cmd.append("--gone")
        self.proc = spawn(cmd, self.log_path, {**os.environ, "WEBHOOK_SECRET": self.secret})
        wait_port("127.0.0.1", self.port, timeout, self.proc, "webhook receiver")
        return self

    def received(self) -> dict[str, Any]:
        return httpx.get(self.url.removesuffix("/webhook") + "/received", timeout=5).json()

    def stop(self) -> None:
        stop_process(self.proc)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Partner agency webhook receiver (Standard Webhooks)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--secret", default=os.environ.get("WEBHOOK_SECRET"))
    p.add_argument("--fail-first", type=int, default=0, help="fail the first N tries of every webhook")
    p.add_argument("--fail-status", type=int, default=503)
    p.add_argument("--retry-after", default=None, help="Retry-After header sent with a failure")
    p.add_argument("--gone", action="store_true", help="answer 410 Gone (unsubscribe)")
    args = p.parse_args(argv)
    if not args.secret:
        p.error("give --secret or WEBHOOK_SECRET (the subscription's whsec_ secret)")
    app = create_app(args.secret, fail_first=args.fail_first, fail_status=args.fail_status,
                     retry_after=args.retry_after, gone=args.gone)
    print(json.dumps({"listening": f"http://{args.host}:{args.port}/webhook"}), flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
