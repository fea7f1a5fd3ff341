"""HTTP API: thin routes (``response_model`` from schemas), one use-case call each, through ``Cases``."""

from typing import Annotated

from fastapi import APIRouter, Depends

from ratings.service import Ratings
from servicekit.app import Provide

TITLE, DESCRIPTION = "One Window — Ratings (好差评)", "One rating per case, paper ballots, red/black list, bad-rating callback and rectification ledger."
cases = Provide[Ratings]("ratings")
Cases = Annotated[Ratings, Depends(cases)]
router = APIRouter(tags=["ratings"])
