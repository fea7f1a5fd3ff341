"""The topic registry: the only place topic names are written.

Name: ``<producer>.<event-kebab>.v<major>``. Kafka key: the event's ``case_number``
(the aggregate id), so one case's events stay ordered in one partition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from contracts.envelope import Event
from contracts.events import approvals as apr
from contracts.events import crossregion as xr
from contracts.events import notifications as ntf
from contracts.events import ratings as rat
from contracts.events import registration as reg

DEFAULT_PARTITIONS = 4
SEQUENCE_READER = "notifications"  # puts each case's events back in order (TopicSpec.sequenced)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    event: type[Event]
    producer: str
    consumers: tuple[str, ...] = ()
    partitions: int = DEFAULT_PARTITIONS
    description: str = ""
    private: bool = False
    """Private: carries full personal data (ID or phone numbers) or a department's own data;
    only its producer and listed consumers may read it (Kafka ACLs, ``contracts.acls``).
    Public: no full ID or phone number; any platform service may read it."""

    @property
    def sequenced(self) -> bool:
        """In its case's sequence: its events carry ``case_seq``, numbered per case by the
        producer (the kit's unit of work). These are the case events of the platform's
        services that notifications reads, the ones that reach the applicant: numbering
        only those lets it tell a missing event from one on a topic it does not read."""
        return self.producer in SERVICES and self.producer != SEQUENCE_READER and SEQUENCE_READER in self.consumers

    @property
    def version(self) -> int:
        return int(self.name.rsplit(".v", 1)[1])


def _kebab(name: str) -> str:
    base = re.sub(r"V\d+$", "", name)
    return re.sub(r"(?<!^)(?=[A-Z])", "-", base).lower()


def _topic(
    producer: str, event: type[Event], consumers: tuple[str, ...] = (), partitions: int = DEFAULT_PARTITIONS,
    *, private: bool = False,
) -> TopicSpec:
    major = re.search(r"V(\d+)$", event.__name__)
    if major is None:
        raise ValueError(f"{event.__name__} lacks a major version suffix")
    return TopicSpec(
        name=f"{producer}.{_kebab(event.__name__)}.v{major.group(1)}",
        event=event,
        producer=producer,
        consumers=consumers,
        partitions=partitions,
        description=(event.__doc__ or "").strip().splitlines()[0],
        private=private,
    )


TOPICS: tuple[TopicSpec, ...] = (
    _topic("registration", reg.ApplicationSubmittedV1, consumers=("notifications", "crossregion"), private=True),  # full phone
    _topic("registration", reg.ApplicationIncompleteV1, consumers=("notifications", "crossregion")),
    _topic("registration", reg.ApplicationAcceptedV1, consumers=("notifications", "crossregion")),
    _topic("registration", reg.StepRequestedV1, consumers=("notifications",), private=True),  # the form: ID numbers
    _topic("registration", reg.StepApprovedV1, consumers=("notifications",)),
    _topic("registration", reg.StepReturnedV1, consumers=("notifications", "crossregion")),
    _topic("registration", reg.LicenceIssuedV1, consumers=("notifications", "crossregion")),
    _topic("registration", reg.CaseCompletedV1, consumers=("notifications", "crossregion", "ratings")),
    _topic("registration", reg.CaseRejectedV1, consumers=("notifications", "crossregion")),
    _topic("registration", reg.DeadlineWarningV1, consumers=("notifications",)),
    _topic("registration", reg.CaseOverdueV1, consumers=("notifications",)),
    _topic("registration", reg.DeadlineRedatedV1),
    _topic("registration", reg.ForwardedApplicationRefusedV1, consumers=("crossregion",), private=True),  # its reason
    _topic("departments", reg.StepDecidedV1, consumers=("registration",), private=True),  # a department's answer
    _topic("approvals", apr.StageCompletedV1, consumers=("notifications", "ratings")),
    _topic("approvals", apr.ProjectCompletedV1, consumers=("notifications",)),
    _topic("approvals", apr.ProjectRegisteredV1, consumers=("notifications",), private=True),  # full phone
    _topic("approvals", apr.StageDeclaredV1),
    _topic("approvals", apr.StageIncompleteV1),
    _topic("approvals", apr.StageAcceptedV1),
    _topic("approvals", apr.ItemRequestedV1, private=True),  # the form: the department's projection
    _topic("departments", apr.ItemDecidedV1, consumers=("approvals",), private=True),  # a department's answer
    _topic("approvals", apr.ItemApprovedV1),
    _topic("approvals", apr.ItemReturnedV1, consumers=("notifications",)),
    _topic("approvals", apr.StageRejectedV1),
    _topic("approvals", apr.JointAcceptancePassedV1),
    _topic("approvals", apr.StageDeadlineWarningV1),
    _topic("approvals", apr.StageOverdueV1),
    _topic("approvals", apr.ItemOverdueV1),
    _topic("ratings", rat.RatingInvitedV1, consumers=("notifications",), private=True),  # the link is a capability
    _topic("ratings", rat.RatingRecordedV1, consumers=("notifications",)),  # partner agencies (the province) subscribe
    _topic("ratings", rat.RatingAnnulledV1),
    _topic("ratings", rat.LedgerEntryOpenedV1, consumers=("notifications",)),
    _topic("ratings", rat.CallbackRecordedV1),
    _topic("ratings", rat.RectificationFeedbackGivenV1, consumers=("notifications",)),
    _topic("ratings", rat.ExplanationGivenV1, consumers=("notifications",)),
    _topic("ratings", rat.RectificationDueWarningV1, consumers=("notifications",)),
    _topic("ratings", rat.RectificationOverdueV1, consumers=("notifications",)),
    _topic("ratings", rat.CardDayMismatchV1, consumers=("notifications",)),
    _topic("ratings", rat.MonthFinalisedV1),
    _topic("ratings", rat.ListPublishedV1),
    _topic("ratings", rat.RequestSubmittedV1, consumers=("notifications",)),
    _topic("ratings", rat.RequestRepliedV1, consumers=("notifications",)),
    # crossregion: a case to handle here (the form, the phone) for registration; the applicant told each step
    _topic("crossregion", xr.CaseForwardedV1, consumers=("registration",), private=True),
    _topic("crossregion", xr.CrossCaseOpenedV1, consumers=("notifications",), private=True),  # full phone
    _topic("crossregion", xr.CrossCaseProgressedV1, consumers=("notifications",)),
    _topic("crossregion", xr.CrossRegionCaseCompletedV1, consumers=("notifications", "ratings")),
    _topic("notifications", ntf.MessageDeliveryFailedV1),
    _topic("notifications", ntf.WebhookDeadLetteredV1),
)

_BY_EVENT = {t.event: t for t in TOPICS}
_BY_TYPE = {t.event.ce_type: t for t in TOPICS}


def topic_for(event: type[Event] | Event) -> TopicSpec:
    cls = event if isinstance(event, type) else type(event)
    return _BY_EVENT[cls]


def topic_for_type(ce_type: str) -> TopicSpec:
    return _BY_TYPE[ce_type]


def dead_letter_topic(service: str) -> str:
    """Each consuming service's dead-letter topic (raw messages plus the reason in headers)."""
    return f"{service}.dead-letter.v1"


SERVICES: tuple[str, ...] = ("registration", "approvals", "ratings", "notifications", "crossregion")
# Producers outside this platform: partner agencies' systems answering on the bus.
EXTERNAL_PRODUCERS: tuple[str, ...] = ("departments",)


# Fields that hold full personal data: a public topic's event has none of them.
PERSONAL_DATA_FIELDS = frozenset({"applicant_phone", "phone", "id_number", "form"})


def all_topic_names() -> dict[str, int]:
    """Every topic to create, with its partition count (dead-letter topics included)."""
    names = {t.name: t.partitions for t in TOPICS}
    names.update({dead_letter_topic(s): 1 for s in SERVICES})
    return names
