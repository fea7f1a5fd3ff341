"""Composition root: settings → the kit (broker, database, unit of work) → use cases → routes, subscribers."""

from __future__ import annotations

from fastapi import FastAPI

from approvals import api, consumers
from approvals.config import Settings
from approvals.repository import MongoRepositories
from approvals.service import Approvals
from servicekit.app import ServiceKit
from servicekit.config import load


def create_app(settings: Settings | None = None) -> FastAPI:
    kit = ServiceKit(settings or load(Settings), bind=MongoRepositories.bind)
    use_cases = consumers.subscribe(kit, Approvals(uow=kit.uow))
    return kit.create_app(title=api.TITLE, description=api.DESCRIPTION, routers=[api.router], provide={api.cases: use_cases})
