"""The ASGI app (``uvicorn approvals.main:app``); nothing else."""

from approvals.bootstrap import create_app

app = create_app()
