"""HTTP API: thin routes (``response_model`` from schemas), one use-case call each, through ``Cases``."""

from typing import Annotated

from fastapi import APIRouter, Depends

from crossregion.service import Crossregion
from servicekit.app import Provide

TITLE, DESCRIPTION = "One Window — Cross-region joint processing (跨省通办 / 省内通办)", "Adapters bridging this city's bus to other regions' platforms."
cases = Provide[Crossregion]("crossregion")
Cases = Annotated[Crossregion, Depends(cases)]
router = APIRouter(tags=["crossregion"])
