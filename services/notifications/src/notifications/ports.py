"""Ports of the notification use cases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from notifications.domain import Message

T = TypeVar("T")


class MessageRepository(Protocol):
    async def add(self, message: Message) -> None: ...
    async def for_case(self, case_number: str) -> list[Message]: ...


class Tx(Protocol):
    messages: MessageRepository

    async def mark_processed(self, consumer: str, event_id: str) -> None: ...


class UnitOfWork(Protocol):
    async def run(self, fn: Callable[[Any], Awaitable[T]]) -> T | None: ...
