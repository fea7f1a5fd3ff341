"""e2e: every service a real process on the session's broker and database."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest

from tests.infra import Infra
from tests.support.processes import ServiceProcess


@pytest.fixture
def service_env(infra: Infra, unique: str) -> dict[str, str]:
    env = {"KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap, "MONGODB_URI": infra.mongodb_uri, **infra.consumer_env}
    for name in ("registration", "approvals", "ratings", "notifications", "crossregion"):
        env[f"{name.upper()}_MONGODB_DATABASE"] = f"{name}_{unique}"
    return env


@pytest.fixture
def start_service(service_env, tmp_path) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def start(name: str, *, argv: list[str] | None = None, **extra_env: str) -> ServiceProcess:
        proc = ServiceProcess(name, {**service_env, **extra_env}, tmp_path / f"{name}.log", argv=argv).start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def start_departments(start_service) -> Callable[..., ServiceProcess]:
    """The simulated departments as their own process; ``args`` script returns/rejects."""

    def start(*args: str, group: str = "department-simulator") -> ServiceProcess:
        return start_service("departments", argv=[sys.executable, "-m", "devstack.simulators", *args],
                             SIMULATOR_SERVICE_NAME=group)

    return start
