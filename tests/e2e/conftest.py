"""e2e: every service a real process on the session's broker and database."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest

from devstack import catalog
from tests.infra import Infra
from tests.support.processes import ServiceProcess


@pytest.fixture(scope="session")
def services() -> tuple[catalog.Service, ...]:
    """Every service of services/services.toml."""
    return catalog.services()


@pytest.fixture
def service_env(infra: Infra, unique: str, services) -> dict[str, str]:
    """Environment of a service process: the session's broker and database, a database per service and test."""
    env = {"KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap, "MONGODB_URI": infra.mongodb_uri, **infra.consumer_env}
    for s in services:
        env[f"{s.env_prefix}MONGODB_DATABASE"] = f"{s.name}_{unique}"
    return env


@pytest.fixture
def start_service(service_env, services, tmp_path) -> Iterator[Callable[..., ServiceProcess]]:
    """``start(name)``: a service of the list as a uvicorn process, ready; or any process given its ``argv``."""
    started: list[ServiceProcess] = []
    listed = {s.name: s for s in services}

    def start(name: str, *, argv: list[str] | None = None, **extra_env: str) -> ServiceProcess:
        s = listed.get(name)
        proc = ServiceProcess(name, {**service_env, **extra_env}, tmp_path / f"{name}.log", argv=argv,
                              app=f"{s.package}.main:app" if s else "", env_prefix=s.env_prefix if s else "").start()
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
