"""The ASGI app (``uvicorn ratings.main:app``); nothing else."""

from ratings.bootstrap import create_app

app = create_app()
