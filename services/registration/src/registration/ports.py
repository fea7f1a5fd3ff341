"""Ports the use cases depend on; adapters live in repository.py and the kit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from contracts import Event
from registration.domain import Application

T = TypeVar("T")


class ApplicationRepository(Protocol):
    async def add(self, application: Application) -> None: ...
    async def get(self, application_id: str) -> Application | None: ...


class Tx(Protocol):
    applications: ApplicationRepository

    def emit(self, events: list[Event]) -> None: ...


class UnitOfWork(Protocol):
    async def run(self, fn: Callable[[Any], Awaitable[T]]) -> T | None: ...
