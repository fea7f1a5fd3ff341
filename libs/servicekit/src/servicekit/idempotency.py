"""Idempotent HTTP commands: the ``Idempotency-Key`` request header (IETF draft
httpapi-idempotency-key-header), the same way in every service.

A state-changing route declares ``once: Once`` and calls its use case through it::

    @router.post("/{n}/window-check", response_model=CaseOut)
    async def window_check(n: str, body: WindowCheckIn, who: Staff, cases: Cases, once: Once) -> CaseOut:
        return await once(cases.check_at_window(who, n, ...), CaseOut.of)

Without the header ``once`` just calls and renders. With it, per (caller ``sub``, method and
path, key), in the service's own ``idempotency`` collection:

- **first time**: the key is reserved (``in_flight``, with a lock and a fencing token), the
  use case runs, and the unit of work writes its answer (status, body, headers) **in the
  same transaction as the use case's effects** (``done``): the effect never exists without
  its recorded answer, and the answer never without the effect;
- **again, same body**: the first answer is replayed (``Idempotent-Replayed: true``), however
  the first reply was lost (dropped connection, crash after the commit);
- **again, another body** (or query): 422 problem+json naming the header;
- **again while the first is in flight**: 409 problem+json with ``Retry-After``;
- the first **refused** (a domain error: nothing changed) or **failed** without committing:
  the reservation is released, a retry runs again (as Stripe does for requests that did not
  execute); only answers of commands that committed are kept;
- the first **died** holding the reservation: once its lock expires a retry takes the key
  over with a new token; should the old holder still try to commit, its in-transaction
  write finds another token and its transaction aborts (409), so the effect happens once.

Rules for use cases: a command is ONE ``uow.run`` transaction whose result is what the use
case returns (the template's rule); the first transaction that commits under a key carries
the answer. A use case that writes without a transaction (``autocommit``) gets its answer
recorded just after, not with its effect: keep state-changing use cases in ``uow.run``.
Records expire after ``idempotency_retention_hours`` (a TTL index: housekeeping only)."""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from servicekit.auth import current_principal
from servicekit.principal import Principal
from servicekit.problems import Problem

IDEMPOTENCY = "idempotency"
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY = 255
T = TypeVar("T")
M = TypeVar("M")
log = logging.getLogger(__name__)


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    await db[IDEMPOTENCY].create_indexes([
        IndexModel([("sub", ASCENDING), ("request", ASCENDING), ("key", ASCENDING)], unique=True,
                   name="caller_request_key"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="retention"),  # housekeeping only
    ])


# -- pure parts -------------------------------------------------------------------------------
# what parse_key accepts, for the API document: a quoted sf-string or bare printable ASCII
KEY_PATTERN = r'^(?:"[!-~][ -~]{0,254}"|[!-~](?:[ -~]{0,253}[!-~])?)$'


def parse_key(raw: str) -> str:
    """The key: an sf-string (``"abc"``, as the draft writes it) or the bare characters;
    1–255 printable ASCII characters. Raises a 422 problem naming the header (like any invalid field)."""
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if not 0 < len(key) <= MAX_KEY or not all(" " <= c <= "~" for c in key):
        raise Problem(422, code="InvalidRequest", detail=f"the {HEADER} header must be 1–{MAX_KEY} printable "
                      "ASCII characters", errors=[{"field": HEADER, "message": "1–255 printable ASCII characters"}])
    return key


def fingerprint(query: str, body: bytes) -> str:
    """The request's content: the query and the body (JSON compared by value, so key order and
    white space do not make another request)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    params = "&".join(sorted(query.split("&"))) if query else ""
    return hashlib.sha256(params.encode() + b"\n" + canonical).hexdigest()


@dataclass(frozen=True)
class Answer:
    """A recorded response: what a retry gets back."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self) -> JSONResponse:
        headers = {k: v for k, v in self.headers.items() if k != "content-type"}
        return JSONResponse(self.body, status_code=self.status, headers={**headers, REPLAYED: "true"},
                            media_type=self.headers.get("content-type", "application/json"))


@dataclass(frozen=True)
class Reservation:
    id: Any
    token: str


class Replayed(Exception):
    """A control-flow signal: the first answer, sent back by its handler."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(f"replayed a {answer.status} answer")
        self.answer = answer


def superseded() -> Problem:
    return Problem(409, code="Superseded", detail=f"a retry with the same {HEADER} took this request over",
                   headers={"Retry-After": "1"})


# -- the store --------------------------------------------------------------------------------
class IdempotencyStore:
    """The ``idempotency`` collection of one service. ``db`` is called when used (the client is
    made in the lifespan). Lock and expiry are wall-clock times (infrastructure, not the
    domain's clock)."""

    def __init__(self, db: Callable[[], AsyncDatabase[Any]], *, retention: timedelta, lock: timedelta,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._db, self.retention, self.lock, self.now = db, retention, lock, now

    @property
    def coll(self) -> Any:
        return self._db()[IDEMPOTENCY]

    async def begin(self, sub: str, request: str, key: str, print_: str) -> Reservation | Answer:
        """Reserve the key (one insert in the usual case), or the first answer to replay.
        Raises a 422 problem (another request under this key) or 409 (in flight)."""
        for _ in range(3):
            now, token = self.now(), uuid.uuid4().hex
            doc = {"sub": sub, "request": request, "key": key, "fingerprint": print_, "state": "in_flight",
                   "token": token, "locked_until": now + self.lock, "created_at": now,
                   "expires_at": now + self.retention}
            try:
                res = await self.coll.insert_one(doc)
                return Reservation(res.inserted_id, token)
            except DuplicateKeyError:
                pass
            found = await self.coll.find_one({"sub": sub, "request": request, "key": key})
            if found is None:  # expired or released meanwhile: reserve again
                continue
            if found["fingerprint"] != print_:
                raise Problem(422, code="IdempotencyKeyReused",
                              detail=f"the {HEADER} {key!r} was used for another request "
                              f"to {request}: use a new key for a new request",
                              errors=[{"field": HEADER, "message": "already used with another request body"}])
            if found["state"] == "done":
                return Answer(found["status"], found["body"], found.get("headers") or {})
            if found["locked_until"] > now:
                raise Problem(409, code="RequestInProgress",
                              detail=f"a request with this {HEADER} is still being processed",
                              headers={"Retry-After": "1"})
            # its holder died (the lock expired): take the key over, fencing the old holder out
            taken = await self.coll.update_one(
                {"_id": found["_id"], "token": found["token"], "state": "in_flight"},
                {"$set": {"token": token, "locked_until": now + self.lock}})
            if taken.modified_count == 1:
                log.info("%s %s: key taken over from a holder whose lock expired", sub, request)
                return Reservation(found["_id"], token)
        raise Problem(409, code="RequestInProgress", detail=f"a request with this {HEADER} is still being processed",
                      headers={"Retry-After": "1"})

    async def finish(self, reservation: Reservation, answer: Answer,
                     session: AsyncClientSession | None = None) -> bool:
        """Record the answer if the reservation still holds (in ``session``'s transaction when
        given). False: another request took the key over."""
        res = await self.coll.update_one(
            {"_id": reservation.id, "token": reservation.token, "state": "in_flight"},
            {"$set": {"state": "done", "status": answer.status, "body": answer.body, "headers": dict(answer.headers),
                      "done_at": self.now()}, "$unset": {"locked_until": ""}}, session=session)
        return bool(res.matched_count == 1)

    async def release(self, reservation: Reservation) -> None:
        """Nothing committed: free the key (never a recorded answer, never another holder's)."""
        await self.coll.delete_one({"_id": reservation.id, "token": reservation.token, "state": "in_flight"})


# -- the command in progress and the unit of work's hook ---------------------------------------
@dataclass
class _Running:
    store: IdempotencyStore
    reservation: Reservation
    render: Callable[[Any], tuple[Answer, Any]]
    pending: tuple[Answer, Any] | None = None
    recorded: tuple[Answer, Any] | None = None


_running: ContextVar[_Running | None] = ContextVar("idempotent_command", default=None)


@contextmanager
def answering(store: IdempotencyStore, reservation: Reservation,
              render: Callable[[Any], tuple[Answer, Any]]) -> Iterator[_Running]:
    """While inside, the transactions the unit of work commits carry this reservation's answer
    (``render(result)``); the first one to commit is the command's (``.recorded``)."""
    run = _Running(store, reservation, render)
    token = _running.set(run)
    try:
        yield run
    finally:
        _running.reset(token)


async def record_in_transaction(session: AsyncClientSession, result: Any) -> None:
    """Called by the unit of work inside each transaction, after the use case: when an
    idempotent command is running and has no answer yet, its answer (rendered from
    ``result``) is written in this transaction. Raises 409 if the key was taken over."""
    run = _running.get()
    if run is None or run.recorded is not None:
        return
    answer, model = run.render(result)
    if not await run.store.finish(run.reservation, answer, session=session):
        raise superseded()
    run.pending = (answer, model)


def transaction_committed() -> None:
    """Called by the unit of work after a commit: the answer written in it is the command's."""
    run = _running.get()
    if run is not None and run.recorded is None and run.pending is not None:
        run.recorded, run.pending = run.pending, None


# -- the route's side -------------------------------------------------------------------------
class Command:
    """What a route calls its use case through (the ``Once`` dependency)."""

    def __init__(self, request: Request, response: Response, principal: Principal, key: str | None) -> None:
        self.request, self.response, self.principal = request, response, principal
        self.key = parse_key(key) if key is not None else None

    async def __call__(self, call: Awaitable[T], render: Callable[[T], M], *,
                       status: Callable[[T], int] | None = None) -> M:
        """Run the use case ``call`` once and answer with ``render(result)`` (status: the
        route's, or ``status(result)``); with a key, replay the first answer instead."""
        if self.key is None:
            answer, model = self._render(await call, render, status)
            self.response.status_code = answer.status
            return model
        store: IdempotencyStore = self.request.app.state.idempotency
        request = f"{self.request.method} {self.request.url.path}"
        try:
            begun = await store.begin(self.principal.sub, request, self.key,
                                      fingerprint(self.request.url.query, await self.request.body()))
            if isinstance(begun, Answer):
                raise Replayed(begun)
        except BaseException:
            if inspect.iscoroutine(call):
                call.close()  # the use case never runs
            raise
        with answering(store, begun, lambda result: self._render(result, render, status)) as run:
            try:
                result = await call
            except BaseException:
                if run.recorded is None:  # nothing committed under this key: a retry runs again
                    try:
                        await store.release(begun)
                    except Exception:  # the lock expires; a retry takes the key over then
                        log.warning("could not release %s key %r", request, self.key, exc_info=True)
                raise
        if run.recorded is None:  # the use case committed no transaction: record the answer now
            answer, model = run.render(result)
            if not await store.finish(begun, answer):
                raise superseded()
        else:
            answer, model = run.recorded
        self.response.status_code = answer.status
        return model

    def _render(self, result: T, render: Callable[[T], M], status: Callable[[T], int] | None) -> tuple[Answer, M]:
        model = render(result)
        body = model.model_dump(mode="json", by_alias=True) if isinstance(model, BaseModel) else jsonable_encoder(model)
        route = self.request.scope.get("route")
        code = status(result) if status else getattr(route, "status_code", None) or 200
        return Answer(code, body, {"content-type": "application/json"}), model


async def command(request: Request, response: Response, principal: Annotated[Principal, Depends(current_principal)],
                  key: Annotated[str | None, Header(
                      alias=HEADER, max_length=MAX_KEY + 2, pattern=KEY_PATTERN,
                      description="Makes a retry safe: a retry with the same key and body (same caller) gets the "
                      "first answer again; the same key with another body is 422; while the first is in flight "
                      "409 with Retry-After. Kept for the service's retention period.",
                      examples=['"8e03978e-40d5-43e8-bc93-6894a57f9324"'])] = None) -> Command:
    return Command(request, response, principal, key)


Once = Annotated[Command, Depends(command)]
"""The dependency every state-changing route declares (documents the header in OpenAPI)."""


def install(app: FastAPI, store: IdempotencyStore) -> None:
    """Give the app its store and answer replays."""
    app.state.idempotency = store

    @app.exception_handler(Replayed)
    async def _replay(request: Request, exc: Replayed) -> JSONResponse:
        return exc.answer.response()


__all__ = ["HEADER", "IDEMPOTENCY", "REPLAYED", "Answer", "Command", "IdempotencyStore", "Once", "Reservation",
           "answering", "ensure_indexes", "fingerprint", "install", "parse_key", "record_in_transaction",
           "transaction_committed"]
