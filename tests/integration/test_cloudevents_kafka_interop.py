"""Integration tier (through the real broker): our wire format is CloudEvents Kafka binary mode, and another Kafka client (kafka-python) and the
CloudEvents SDK's Kafka binding (cloudevents 2.x, ``cloudevents.core.bindings.kafka``) read and
write it, through the real broker."""

from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from contracts.envelope import InvalidEvent
from contracts.events.registration import ApplicationSubmittedV1
from tests.infra import Infra

# kafka-python 3 loads its protocol schemas with the deprecated importlib.resources API.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.consumer.fetcher import ConsumerRecord

pytestmark = [
    pytest.mark.filterwarnings("ignore:read_text is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:open_text is deprecated:DeprecationWarning"),
]


@pytest.fixture
def topic(infra: Infra, unique: str) -> str:
    name = f"contract-interop-{unique}"
    admin = KafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap, client_id="contract-tests")
    try:
        admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    return name


def _produce(bootstrap: str, topic: str, key: bytes, value: bytes, headers: dict[str, bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, key=key, value=value, headers=list(headers.items())).get(timeout=30)
        producer.flush()
    finally:
        producer.close()


def _consume_one(bootstrap: str, topic: str, timeout: float = 30) -> ConsumerRecord:
    """Read the first record of partition 0 without a consumer group (Tansu joins groups slowly)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=500, max_records=1)
            if batch.get(tp):
                return batch[tp][0]
        raise AssertionError(f"no record on {topic} within {timeout}s")
    finally:
        consumer.close()


def _event() -> ApplicationSubmittedV1:
    case = "SZ-2025-000123"
    return ApplicationSubmittedV1(
        source="/one-window/registration",
        subject=case,
        case_number=case,
        causation_id="req-42",
        application_id=case,
        company_name="深圳示例科技有限公司",
        applicant_id="acct-7",
        applicant_phone="13800000000",
        channel="wechat",
    )


def test_event_from_to_wire_reads_with_the_cloudevents_sdk(infra: Infra, topic: str) -> None:
    event = _event()
    body, headers = event.to_wire()
    _produce(
        infra.kafka_bootstrap, topic, event.case_number.encode(), body, {k: v.encode() for k, v in headers.items()}
    )

    record = _consume_one(infra.kafka_bootstrap, topic)
    received_headers = {k: v for k, v in record.headers}
    assert record.key == event.case_number.encode()
    ce = from_binary(
        KafkaMessage(headers=received_headers, key=record.key, value=record.value), JSONFormat(), CloudEvent
    )

    assert ce.get_id() == event.event_id
    assert ce.get_type() == ApplicationSubmittedV1.ce_type
    assert ce.get_source() == event.source
    assert ce.get_specversion() == "1.0"
    assert ce.get_subject() == event.case_number
    assert ce.get_time() == event.time
    assert ce.get_datacontenttype() == "application/json"
    assert ce.get_extension("caseno") == event.case_number
    assert ce.get_extension("correlationid") == event.correlation_id
    assert ce.get_extension("causationid") == "req-42"
    assert ce.get_extension("partitionkey") == event.case_number  # the SDK maps the Kafka key
    data = ce.get_data()
    assert data == event.data()
    assert data["company_name"] == "深圳示例科技有限公司" and data["channel"] == "wechat"

    again = ApplicationSubmittedV1.from_wire(record.value, received_headers)
    assert again == event


def test_event_written_by_the_cloudevents_sdk_parses_with_from_wire(infra: Infra, topic: str) -> None:
    case = "SZ-2025-000456"
    at = datetime(2025, 3, 3, 9, 30, 15, 250000, tzinfo=UTC)
    data = {
        "application_id": case,
        "company_name": "前海合作公司",
        "applicant_id": "partner-acct-1",
        "channel": "other_region",
    }
    ce = CloudEvent(
        attributes={
            "id": "partner-evt-1",
            "type": ApplicationSubmittedV1.ce_type,
            "source": "/partner/guangzhou",
            "subject": case,
            "time": at,
            "datacontenttype": "application/json",
            "caseno": case,
            "correlationid": "journey-1",
        },
        data=data,
    )
    message = to_binary(ce, JSONFormat(), key_mapper=lambda e: e.get_extension("caseno"))
    key = message.key.encode() if isinstance(message.key, str) else message.key
    assert key == case.encode()
    _produce(infra.kafka_bootstrap, topic, key, message.value, message.headers)

    record = _consume_one(infra.kafka_bootstrap, topic)
    event = ApplicationSubmittedV1.from_wire(record.value, dict(record.headers))

    assert event.event_id == "partner-evt-1"
    assert event.source == "/partner/guangzhou"
    assert event.subject == event.case_number == case
    assert event.time == at
    assert event.correlation_id == "journey-1"
    assert event.causation_id is None
    assert event.data() == data | {"applicant_phone": None, "kind": "establishment"}


def test_sdk_event_of_another_type_is_rejected() -> None:
    ce = CloudEvent(
        attributes={"type": "cn.gov.onewindow.registration.application-submitted.v2", "source": "/x"},
        data={"application_id": "C"},
    )
    message = to_binary(ce, JSONFormat())
    with pytest.raises(InvalidEvent, match="ce_type"):
        ApplicationSubmittedV1.from_wire(message.value, message.headers)
