"""The console's pages: one module per page, each an APIRouter of thin routes (fetch from
the services through ``console.backends``, decide in ``console.domain``, render a template)."""

from __future__ import annotations

from fastapi import APIRouter

from console.pages import boxes, cards, hall, ledger, lookup, ops, sla, statistics

ROUTERS: tuple[APIRouter, ...] = (
    sla.router,
    lookup.router,
    ledger.router,
    cards.router,
    boxes.router,
    statistics.router,
    ops.router,
    hall.router,
)
