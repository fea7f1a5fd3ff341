"""Use cases: load → domain → save + events, in one transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

from registration.domain import Application
from registration.ports import Tx, UnitOfWork


async def submit_application(
    *, uow: UnitOfWork, now: datetime, company_name: str, applicant_id: str, applicant_phone: str | None,
    channel: str, application_id: str | None = None,
) -> Application:
    application = Application.submit(
        application_id=application_id or f"A{uuid.uuid4().hex[:16].upper()}",
        company_name=company_name, applicant_id=applicant_id, applicant_phone=applicant_phone,
        channel=channel, now=now,
    )

    async def work(tx: Tx) -> None:
        await tx.applications.add(application)
        tx.emit(application.pull_events())

    await uow.run(work)
    return application


async def get_application(*, uow: UnitOfWork, application_id: str) -> Application | None:
    async def work(tx: Tx) -> Application | None:
        return await tx.applications.get(application_id)

    return await uow.run(work)
