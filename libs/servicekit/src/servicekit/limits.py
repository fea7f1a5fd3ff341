"""Request size limits for every service (a pure ASGI middleware, decision 23).

- a request target (path and query) longer than ``max_target`` bytes: 414;
- a body larger than ``max_body`` bytes: 413, at once when ``Content-Length`` says so
  (before routing: an unknown path or method too); while it streams otherwise (chunked, or
  a lying length) the body is counted as the app reads it: past the limit the app is told
  the client went away (``http.disconnect``: it never sees a truncated body, so nothing
  happens) and whatever it answers is replaced by the 413.

Both answer problem+json. (A request line too long for the HTTP server itself never reaches
the app: uvicorn answers its own plain-text 400; ``devstack`` runs uvicorn with
``--h11-max-incomplete-event-size`` above ``max_target`` so the app can answer 414.)"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.problems import PROBLEM_JSON, reason

DEFAULT_MAX_BODY = 256 * 1024
DEFAULT_MAX_TARGET = 8 * 1024


def too_large(max_body: int) -> str:
    return f"the request body is larger than {max_body} bytes"


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body: int = DEFAULT_MAX_BODY, max_target: int = DEFAULT_MAX_TARGET) -> None:
        self.app, self.max_body, self.max_target = app, max_body, max_target

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
        path = scope.get("path", "")
        body: dict[str, Any] = {"type": "about:blank", "title": reason(status), "status": status,
                                "instance": path if len(path) <= 256 else path[:256] + "…", "detail": detail}
        await JSONResponse(body, status_code=status, media_type=PROBLEM_JSON,
                           headers={"Connection": "close"})(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = len(scope.get("raw_path") or scope.get("path", "").encode()) + len(scope.get("query_string", b""))
        if target > self.max_target:
            await self._refuse(scope, receive, send, 414, f"the request target is longer than {self.max_target} bytes")
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(scope, receive, send, 400, "Content-Length is not a number")
                    return
                if declared > self.max_body:
                    await self._refuse(scope, receive, send, 413, too_large(self.max_body))
                    return
        received, over, started = 0, False, False
        max_body = self.max_body

        async def counting() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def replacing(message: Message) -> None:
            nonlocal started
            if over and not started:
                if message["type"] == "http.response.start":
                    started = True
                    await self._refuse(scope, receive, send, 413, too_large(max_body))
                return  # the app's answer to the cut-off body: replaced by the 413
            if not over:
                await send(message)

        await self.app(scope, counting, replacing)


__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_MAX_TARGET", "RequestLimits"]
