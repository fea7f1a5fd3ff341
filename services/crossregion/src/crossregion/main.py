"""The ASGI app (``uvicorn crossregion.main:app``); nothing else."""

from crossregion.bootstrap import create_app

app = create_app()
