"""What the use cases depend on besides the kit's unit of work and clock: the repositories
(declared once), the calendar, a fired timer. Adapters: repository.py, the kit, test fakes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from approvals.domain import Project, StageCase
from servicekit.ports import Timers
from servicekit.workdays import Deadline


class ProjectRepository(Protocol):
    async def add(self, project: Project) -> None:
        """Insert; raises AlreadyExists for a known project code."""

    async def get(self, code: str) -> Project:
        """Raises NotFound."""

    async def save(self, project: Project) -> None:
        """Replace if the version is unchanged; ConcurrentUpdate otherwise."""


class StageRepository(Protocol):
    async def add(self, stage: StageCase) -> None: ...
    async def get(self, case_number: str) -> StageCase: ...
    async def get_many(self, case_numbers: list[str]) -> dict[str, StageCase]: ...
    async def save(self, stage: StageCase) -> None: ...
    async def save_many(self, stages: list[StageCase]) -> None: ...
    async def of_project(self, project_code: str) -> list[StageCase]: ...
    async def open_due_before(self, before: datetime, limit: int) -> list[StageCase]: ...

    async def statistics(self) -> list[dict[str, Any]]:
        """Per stage: completed, completed the same working day."""


class BlobStore(Protocol):
    async def put(self, sha256: str, data: bytes) -> bool:
        """Store the bytes under their hash once; False when they were there already."""


class Repositories(Protocol):
    @property
    def projects(self) -> ProjectRepository: ...

    @property
    def stages(self) -> StageRepository: ...

    @property
    def blobs(self) -> BlobStore: ...

    @property
    def timers(self) -> Timers: ...


class Calendar(Protocol):
    def deadline(self, start: datetime, n: int) -> Deadline: ...


class DueTimer(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...


__all__ = ["BlobStore", "Calendar", "DueTimer", "ProjectRepository", "Repositories", "StageRepository"]
