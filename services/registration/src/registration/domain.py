"""Company start-up (企业开办): entities, state machine and rules. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from contracts import Event
from contracts.events.registration import ApplicationSubmittedV1

SOURCE = "/one-window/registration"


class DomainError(Exception):
    """A rule of the domain was broken."""


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"


@dataclass
class Application:
    application_id: str
    company_name: str
    applicant_id: str
    applicant_phone: str | None
    channel: str
    submitted_at: datetime
    status: ApplicationStatus = ApplicationStatus.SUBMITTED
    version: int = 0
    events: list[Event] = field(default_factory=list, repr=False)

    @classmethod
    def submit(cls, *, application_id: str, company_name: str, applicant_id: str, applicant_phone: str | None,
               channel: str, now: datetime) -> Application:
        if not company_name.strip():
            raise DomainError("company_name must not be blank")
        app = cls(application_id, company_name.strip(), applicant_id, applicant_phone, channel, now)
        app.events.append(ApplicationSubmittedV1(
            source=SOURCE, subject=application_id, case_number=application_id, time=now,
            application_id=application_id, company_name=app.company_name, applicant_id=applicant_id,
            applicant_phone=applicant_phone, channel=channel,  # type: ignore[arg-type]
        ))
        return app

    def pull_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events
