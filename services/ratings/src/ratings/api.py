"""HTTP API: thin routes (``response_model`` from schemas), one use-case call each; every
state-changing route with a caller calls through the kit's ``Once`` (``Idempotency-Key``)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from ratings import page
from ratings.domain import Window
from ratings.domain.errors import AlreadyRated, TokenRefused
from ratings.schemas import (
    BoxOut,
    CallbackIn,
    CardOut,
    CaseRatingOut,
    CountIn,
    DropIn,
    EntryOut,
    HallOut,
    IssueIn,
    ListOut,
    Month,
    PublishIn,
    RatingIn,
    ReconcileIn,
    ReconciliationOut,
    ReportOut,
    RequestIn,
    RequestOut,
    ReviewIn,
    SerialsIn,
    TextIn,
    TokenRatingIn,
    VerificationOut,
    VoteOut,
    WindowIn,
    WindowOut,
)
from ratings.service import By, Cards, Entry, Ledger, Ratings, Roster, Statistics
from servicekit.app import Provide
from servicekit.auth import Principal, Role, require
from servicekit.idempotency import Once
from servicekit.text import Key

TITLE = "One Window — Ratings (好差评)"
DESCRIPTION = ("One rating per case on every channel (signed single-use links and QR codes, the window device, "
               "numbered paper cards), the monthly box opening signed off by three oversight bodies, a tamper-evident "
               "log, the red and black list, and the bad-rating ledger with callbacks and feedback.")

ratings, cards, ledger, stats, roster = (Provide[Ratings]("ratings"), Provide[Cards]("cards"), Provide[Ledger]("ledger"),
                                         Provide[Statistics]("statistics"), Provide[Roster]("roster"))
RatingCases = Annotated[Ratings, Depends(ratings)]
CardCases = Annotated[Cards, Depends(cards)]
LedgerCases = Annotated[Ledger, Depends(ledger)]
StatsCases = Annotated[Statistics, Depends(stats)]
RosterCases = Annotated[Roster, Depends(roster)]

STAFF = (Role.WINDOW_STAFF, Role.REVIEWER, Role.HELPER, Role.SUPERVISOR, Role.OVERSIGHT, Role.OPERATOR)
Anyone = Annotated[Principal, Depends(require(*Role))]
Staff = Annotated[Principal, Depends(require(*STAFF))]
Managing = Annotated[Principal, Depends(require(Role.OPERATOR, Role.SUPERVISOR))]
Applicant = Annotated[Principal, Depends(require(Role.APPLICANT))]
RatingCaller = Annotated[Principal, Depends(require(Role.APPLICANT, Role.WINDOW_STAFF))]
WindowStaff = Annotated[Principal, Depends(require(Role.WINDOW_STAFF))]
Supervisor = Annotated[Principal, Depends(require(Role.SUPERVISOR))]
Hall = Annotated[Principal, Depends(require(Role.WINDOW_STAFF, Role.SUPERVISOR, Role.OPERATOR))]
Counting = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.OVERSIGHT, Role.OPERATOR))]
Watching = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.OVERSIGHT, Role.OPERATOR))]
LedgerStaff = Annotated[Principal, Depends(require(Role.WINDOW_STAFF, Role.HELPER, Role.SUPERVISOR, Role.OPERATOR))]
Replying = Annotated[Principal, Depends(require(Role.REVIEWER, Role.HELPER, Role.SUPERVISOR))]

router = APIRouter(tags=["ratings"])
PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
             "description": "The rating link as a QR code (PNG)"}}


# -- the roster -------------------------------------------------------------------------------------
@router.put("/windows/{window_id}", response_model=WindowOut, tags=["roster"], summary="Create or replace a window and its staff")
async def put_window(window_id: Key, body: WindowIn, who: Managing, cases: RosterCases, once: Once) -> WindowOut:
    return await once(cases.put(who, Window(window_id, body.name, body.department, body.staff, body.staff_names,
                                            body.owner_id, business=body.business)), WindowOut.of)


@router.get("/windows", response_model=list[WindowOut], tags=["roster"], summary="The windows and their staff")
async def list_windows(who: Staff, cases: RosterCases) -> list[WindowOut]:
    return [WindowOut.of(w) for w in await cases.all()]


@router.get("/hall", response_model=HallOut, tags=["roster"],
            summary="The hall screen: each window's business and staff on duty, today's ratings (public, no login)")
async def hall(cases: RosterCases) -> HallOut:
    return HallOut.of(await cases.hall())


# -- rating ------------------------------------------------------------------------------------------
@router.post("/ratings/by-token", response_model=CaseRatingOut, summary="Rate a case with the link's token (no login)")
async def rate_by_token(body: TokenRatingIn, cases: RatingCases) -> CaseRatingOut:
    return CaseRatingOut.of(await cases.rate_by_token(body.token, level=body.level, indicators=body.indicators,
                                                      comment=body.comment, channel=body.channel))


# The page the SMS link opens (ratings.page): not part of the JSON API, so not in its document.
@router.get("/rate", include_in_schema=False, response_class=HTMLResponse)
async def rating_page(token: Annotated[str, Query(max_length=1000)] = "") -> HTMLResponse:
    return HTMLResponse(page.form(token), headers=page.HEADERS)


@router.post("/rate", include_in_schema=False, response_class=HTMLResponse)
async def rate_from_page(request: Request, cases: RatingCases) -> HTMLResponse:
    fields = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=5).items()}
    token, comment = fields.get("token", ""), fields.get("comment", "")
    try:
        body = TokenRatingIn.model_validate({"token": token, "level": fields.get("level"), "channel": "web",
                                             "comment": comment.strip() or None})
    except ValidationError as exc:
        where = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        if "token" in where:
            return HTMLResponse(page.refused("评价链接无效，请使用短信或办件回执上的链接。"), 422, headers=page.HEADERS)
        error = "请选择满意程度。" if "level" in where else "意见不超过500字，且不能含有无法显示的字符。"
        return HTMLResponse(page.form(token, error=error, level=fields.get("level"), comment=comment), 422,
                            headers=page.HEADERS)
    try:
        rated = await cases.rate_by_token(body.token, level=body.level, indicators={}, comment=body.comment, channel="web")
    except AlreadyRated:
        return HTMLResponse(page.refused("该办件已经评价过，一件事只能评价一次。"), 409, headers=page.HEADERS)
    except TokenRefused:
        return HTMLResponse(page.refused("评价链接已过期、已使用或无效。"), 422, headers=page.HEADERS)
    return HTMLResponse(page.done(rated.case_number, body.level), headers=page.HEADERS)


@router.post("/cases/{case_number}/rating", response_model=CaseRatingOut,
             summary="Rate a case: the applicant in the app, or the window's rating device (window staff)")
async def rate(case_number: Key, body: RatingIn, who: RatingCaller, cases: RatingCases, once: Once) -> CaseRatingOut:
    return await once(cases.rate(who, case_number, level=body.level, indicators=body.indicators, comment=body.comment,
                                 channel=body.channel), CaseRatingOut.of)


@router.get("/cases/{case_number}/rating", response_model=CaseRatingOut, summary="A case's rating")
async def read_rating(case_number: Key, who: Anyone, cases: RatingCases) -> CaseRatingOut:
    return CaseRatingOut.of(await cases.get(who, case_number))


@router.get("/cases/{case_number}/rating/qr", response_class=Response, responses=PNG,
            summary="The case's rating link as a QR code for the window's receipt")
async def rating_qr(case_number: Key, who: WindowStaff, cases: RatingCases) -> Response:
    return Response(await cases.qr_png(who, case_number), media_type="image/png")


@router.post("/cases/{case_number}/rating/annulment", response_model=CaseRatingOut,
             summary="Review (申诉复核): annul a mistaken or malicious rating; the case may be rated again")
async def annul(case_number: Key, body: ReviewIn, who: Supervisor, cases: RatingCases, once: Once) -> CaseRatingOut:
    return await once(cases.annul(who, case_number, reason=body.reason), CaseRatingOut.of)


# -- paper cards ---------------------------------------------------------------------------------------
@router.post("/cards/issues", response_model=list[CardOut], status_code=201, tags=["cards"],
             summary="Issue a range of cards to a window's staff member (before opening)")
async def issue_cards(body: IssueIn, who: Hall, cases: CardCases, once: Once) -> list[CardOut]:
    return await once(cases.issue(who, day=body.day, window_id=body.window_id, staff_id=body.staff_id,
                                  first=body.first, count=body.count), lambda cs: [CardOut.of(c) for c in cs])


@router.post("/cards/drops", response_model=list[CardOut], tags=["cards"], summary="Cards dropped in the box's good or bad slot")
async def drop_cards(body: DropIn, who: Hall, cases: CardCases, once: Once) -> list[CardOut]:
    return await once(cases.drop(who, body.serials, body.slot), lambda cs: [CardOut.of(c) for c in cs])


@router.post("/cards/returns", response_model=list[CardOut], tags=["cards"], summary="Unused cards returned (before closing)")
async def return_cards(body: SerialsIn, who: Hall, cases: CardCases, once: Once) -> list[CardOut]:
    return await once(cases.give_back(who, body.serials), lambda cs: [CardOut.of(c) for c in cs])


@router.post("/cards/voids", response_model=list[CardOut], tags=["cards"], summary="Cards voided (spoiled, lost)")
async def void_cards(body: SerialsIn, who: Hall, cases: CardCases, once: Once) -> list[CardOut]:
    return await once(cases.void(who, body.serials), lambda cs: [CardOut.of(c) for c in cs])


@router.post("/cards/reconciliations", response_model=ReconciliationOut, tags=["cards"],
             summary="Reconcile a window's day: issued = used + returned + void, or an alarm")
async def reconcile(body: ReconcileIn, who: Hall, cases: CardCases, once: Once) -> ReconciliationOut:
    return await once(cases.reconcile(who, day=body.day, window_id=body.window_id), ReconciliationOut.of)


@router.get("/cards/reconciliations", response_model=list[ReconciliationOut], tags=["cards"], summary="The day's report")
async def day_report(who: Staff, cases: CardCases,
                     day: str = Query(pattern=r"^20[0-9]{2}-[01][0-9]-[0-3][0-9]$")) -> list[ReconciliationOut]:
    return [ReconciliationOut.of(r) for r in await cases.day_report(day)]


# -- the month's box opening -------------------------------------------------------------------------------
@router.put("/boxes/{month}", response_model=BoxOut, tags=["box opening"], summary="Open the month's count session")
async def open_box(month: Month, who: Managing, cases: CardCases, once: Once) -> BoxOut:
    return await once(cases.open_box(who, month), BoxOut.of)


@router.post("/boxes/{month}/votes", response_model=list[VoteOut], tags=["box opening"],
             summary="Enter or scan the votes of a window's box; suspicious cards are flagged, not counted")
async def count_votes(month: Month, body: CountIn, who: Counting, cases: CardCases, once: Once) -> list[VoteOut]:
    entries = [Entry(v.serial, v.slot, v.level) for v in body.votes]
    return await once(cases.count(who, month, window_id=body.window_id, entries=entries),
                      lambda vs: [VoteOut.of(v) for v in vs])


@router.post("/boxes/{month}/sign-offs", response_model=BoxOut, tags=["box opening"],
             summary="An oversight body signs the month's count (three distinct ones make it final)")
async def sign_off(month: Month, who: Staff, cases: CardCases, once: Once) -> BoxOut:
    return await once(cases.sign(who, month), BoxOut.of)


@router.get("/boxes/{month}", response_model=BoxOut, tags=["box opening"], summary="The month's count, flags and result")
async def read_box(month: Month, who: Watching, cases: CardCases) -> BoxOut:
    return BoxOut.of(*await cases.box(month))


@router.get("/log/verification", response_model=VerificationOut, tags=["box opening"],
            summary="Recompute the tamper-evident log and check every card against it")
async def verify_log(who: Watching, cases: CardCases) -> VerificationOut:
    return VerificationOut.of(await cases.verify())


# -- the red and black list ---------------------------------------------------------------------------------
@router.post("/lists", response_model=ListOut, status_code=201, tags=["red and black list"],
             summary="Publish a month's red and black list (shown at least 15 days; immutable)")
async def publish(body: PublishIn, who: Supervisor, cases: CardCases, once: Once) -> ListOut:
    return await once(cases.publish(who, body.month, display_from=body.display_from, display_days=body.display_days),
                      ListOut.of)


@router.get("/lists/current", response_model=list[ListOut], tags=["red and black list"],
            summary="What the hall's screens show now (public, no login)")
async def lists_now(cases: CardCases) -> list[ListOut]:
    return [ListOut.of(p) for p in await cases.on_display()]


@router.get("/lists/{month}", response_model=ListOut, tags=["red and black list"], summary="A month's published list")
async def read_list(month: Month, who: Staff, cases: CardCases) -> ListOut:
    return ListOut.of(await cases.publication(month))


# -- the ledger -----------------------------------------------------------------------------------------------
@router.get("/ledger", response_model=list[EntryOut], tags=["ledger"], summary="Ledger entries (owners see theirs)")
async def list_entries(who: Staff, cases: LedgerCases, status: str | None = Query(None, pattern=r"^[a-z]{1,20}$"),
                       month: str | None = Query(None, pattern=r"^20[0-9]{2}-[01][0-9]$"),
                       mine: bool = False) -> list[EntryOut]:
    return [EntryOut.of(e) for e in await cases.find(who, status=status, month=month, mine=mine)]


@router.get("/ledger/{entry_id}", response_model=EntryOut, tags=["ledger"], summary="A ledger entry")
async def read_entry(entry_id: Key, who: Staff, cases: LedgerCases) -> EntryOut:
    return EntryOut.of(await cases.get(who, entry_id))


@router.post("/ledger/{entry_id}/callback", response_model=EntryOut, tags=["ledger"],
             summary="Record the phone callback (电话回访) and its outcome")
async def callback(entry_id: Key, body: CallbackIn, who: LedgerStaff, cases: LedgerCases, once: Once) -> EntryOut:
    return await once(cases.callback(who, entry_id, outcome=body.outcome, reasonable=body.reasonable), EntryOut.of)


@router.post("/ledger/{entry_id}/feedback", response_model=EntryOut, tags=["ledger"],
             summary="Rectified: the feedback to the person (within 3 working days)")
async def feedback(entry_id: Key, body: TextIn, who: LedgerStaff, cases: LedgerCases, once: Once) -> EntryOut:
    return await once(cases.feedback(who, entry_id, text=body.text), EntryOut.of)


@router.post("/ledger/{entry_id}/explanation", response_model=EntryOut, tags=["ledger"],
             summary="No legal basis: the explanation sent to the person")
async def explanation(entry_id: Key, body: TextIn, who: LedgerStaff, cases: LedgerCases, once: Once) -> EntryOut:
    return await once(cases.explain(who, entry_id, text=body.text), EntryOut.of)


# -- consultations, suggestions, complaints ------------------------------------------------------------------------
@router.post("/requests", response_model=RequestOut, status_code=201, tags=["requests"],
             summary="A consultation, suggestion or complaint (咨询、建议、投诉) from the app")
async def submit_request(body: RequestIn, who: Applicant, cases: LedgerCases, once: Once) -> RequestOut:
    return await once(cases.submit_request(who, kind=body.kind, department=body.department, text=body.text),
                      RequestOut.of)


@router.get("/requests/{request_id}", response_model=RequestOut, tags=["requests"], summary="A request and its reply")
async def read_request(request_id: Key, who: Anyone, cases: LedgerCases) -> RequestOut:
    return RequestOut.of(await cases.get_request(who, request_id))


@router.post("/requests/{request_id}/reply", response_model=RequestOut, tags=["requests"],
             summary="The department's reply (reaches the person's phone)")
async def reply(request_id: Key, body: TextIn, who: Replying, cases: LedgerCases, once: Once) -> RequestOut:
    return await once(cases.reply(who, request_id, text=body.text), RequestOut.of)


# -- statistics ----------------------------------------------------------------------------------------------------
@router.get("/statistics", response_model=ReportOut, tags=["statistics"],
            summary="Counts per level, satisfaction, callback and reply rates (and what keeps them below 100%)")
async def statistics(who: Watching, cases: StatsCases, month: str = Query(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$"),
                     by: By = "window") -> ReportOut:
    return ReportOut.of(await cases.report(who, month, by))
