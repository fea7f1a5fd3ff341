"""HTTP API: thin routes (``response_model`` from schemas), one use-case call each, through ``Cases``."""

from typing import Annotated

from fastapi import APIRouter, Depends

from approvals.service import Approvals
from servicekit.app import Provide

TITLE, DESCRIPTION = "One Window — Construction project approvals (工程建设项目审批)", "Four stages with parallel department review and one-window issuance."
cases = Provide[Approvals]("approvals")
Cases = Annotated[Approvals, Depends(cases)]
router = APIRouter(tags=["approvals"])
