"""Session-wide fixtures: one real broker and one real database for every tier."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.infra import Infra, real_servers
from tests.support.auth import token_issuer

# Every service of the run (in-process apps and e2e processes, which inherit the
# environment) trusts the test issuer, as the platform trusts its identity provider.
os.environ.update(token_issuer().env())


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """A real Kafka-compatible broker and MongoDB-wire database (fails loudly if none starts)."""
    with real_servers() as servers:
        yield servers


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic names, group ids and database names of one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def infra_env(infra: Infra, monkeypatch: pytest.MonkeyPatch) -> Infra:
    """Point settings loaded in this test at the session's servers."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.kafka_bootstrap)
    monkeypatch.setenv("MONGODB_URI", infra.mongodb_uri)
    for k, v in infra.consumer_env.items():
        monkeypatch.setenv(k, v)
    return infra


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, taken from its folder."""
    for item in items:
        parts = os.path.relpath(str(item.fspath), os.path.dirname(__file__)).split(os.sep)
        if parts and parts[0] in {"unit", "component", "integration", "contract", "e2e", "faults", "browser"}:
            item.add_marker(getattr(pytest.mark, parts[0]))
