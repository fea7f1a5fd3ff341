"""The console's pure parts: who sees what, deadlines, the SLA board, masking, CSV, sessions, assets."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console import assets, domain
from console.sessions import SessionStore
from servicekit.principal import Principal, Role

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(("due", "text"), [
    (NOW + timedelta(hours=2, minutes=5), "剩 2 小时 05 分"),
    (NOW + timedelta(days=1, hours=3), "剩 1 天 3 小时 00 分"),
    (NOW - timedelta(minutes=30), "已超时 0 小时 30 分"),
    (None, "—"),
])
def test_time_left_reads_as_the_board_shows_it(due, text):
    assert domain.time_left(due, NOW) == text


def test_local_time_is_beijing_time_from_a_datetime_or_its_text():
    assert domain.local(NOW) == "2026-11-27 10:00"
    assert domain.local("2026-11-27T02:00:00Z") == "2026-11-27 10:00"
    assert domain.local(None) == "—"


@pytest.mark.parametrize(("path", "safe"), [
    ("/sla", "/sla"), ("/lookup?case_number=QY1", "/lookup?case_number=QY1"), (None, "/"),
    ("//evil.example/x", "/"), ("https://evil.example", "/"), ("/\\evil", "/"), ("/a\nb", "/"), ("sla", "/"),
])
def test_after_login_the_user_returns_only_to_a_local_path(path, safe):
    assert domain.safe_next(path) == safe


def test_each_role_sees_only_its_pages_and_an_applicant_none():
    assert [i.path for i in domain.nav_for(Role.OVERSIGHT)] == ["/ledger", "/boxes", "/statistics"]
    assert domain.home_for(Role.SUPERVISOR) == "/sla"
    assert domain.home_for(Role.APPLICANT) is None and domain.home_for(Role.PARTNER_AGENCY) is None


def test_personal_data_is_masked_unless_the_role_is_entitled():
    data = {"text": "请致电 13912345678", "ids": ["620102199003071234"], "n": 3}
    assert domain.masked(data, Role.SUPERVISOR) == {"text": "请致电 139****5678", "ids": ["620102********1234"], "n": 3}
    assert domain.masked(data, Role.WINDOW_STAFF) == data


def _case(number: str, due: datetime, overdue: bool, *steps: tuple[str, str]) -> dict[str, object]:
    return {"case_number": number, "kind": "establishment", "status": "accepted", "company_name": f"{number} 公司",
            "due_at": due.isoformat(), "overdue": overdue, "helper_id": None,
            "steps": [{"step": s, "department": d, "status": "requested"} for s, d in steps]}


def test_the_board_puts_overdue_first_then_the_earliest_deadline_and_counts_per_department():
    stage = {"case_number": "GC1", "stage": "construction_permit", "status": "accepted", "project_code": "P-1",
             "due_at": (NOW + timedelta(hours=1)).isoformat(), "overdue": False, "helper_id": "h1",
             "items": [{"status": "requested", "reviews": [{"department": "housing_construction", "decision": None},
                                                           {"department": "fire_review", "decision": "approved"}]}]}
    board = domain.SlaBoard.of(
        [_case("QY2", NOW + timedelta(hours=3), False, ("tax", "tax"), ("seal", "public_security")),
         _case("QY1", NOW - timedelta(hours=1), True, ("licence", "market_supervision")),
         _case("QY1", NOW - timedelta(hours=1), True, ("licence", "market_supervision"))],  # in both views
        [stage])
    assert [r.case_number for r in board.rows] == ["QY1", "GC1", "QY2"]
    assert board.rows[1].matter == "施工许可" and board.rows[1].departments == ("住房城乡建设局",)
    assert ("市场监管局", 0, 1) == board.by_department()[0]
    assert dict((m, (r, o)) for m, r, o in board.by_matter()) == {"企业开办": (1, 1), "施工许可": (1, 0)}


def test_a_csv_cell_that_starts_like_a_formula_is_defused():
    out = domain.to_csv(["窗口", "差评"], [["=HYPERLINK(\"http://x\")", 1], ["+1", "-2"], ["@SUM(A1)", None]])
    assert out.startswith("\ufeff窗口,差评\r\n")
    assert "'=HYPERLINK" in out and "'+1" in out and "'-2" in out and "'@SUM" in out


@given(st.text(max_size=30))
def test_no_csv_cell_starts_with_a_formula_character(text):
    assert not domain.csv_cell(text).startswith(("=", "+", "-", "@", "\t", "\r"))


def test_a_case_number_names_its_service():
    assert domain.service_of("QY20261127ABCD") == "registration"
    assert domain.service_of("bg20261127ABCD") == "registration"
    assert domain.service_of("GC20261127ABCD") == "approvals"
    assert domain.service_of("XX1") is None


def test_the_timeline_interleaves_steps_messages_and_the_rating_by_time():
    case = {"history": [{"at": "2026-11-27T01:00:00Z", "action": "submitted", "actor": "u-1", "detail": ""},
                        {"at": "2026-11-27T03:00:00Z", "action": "completed", "actor": "system", "detail": ""}]}
    messages = [{"created_at": "2026-11-27T01:00:05Z", "title": "已受理", "channel": "sms", "address": "139****5678",
                 "status": "delivered"}]
    rating = {"rating": {"rated_at": "2026-11-27T04:00:00Z", "label": "不满意", "channel": "app", "bad": True}}
    entries = domain.timeline(case, messages, rating)
    assert [e.title for e in entries] == ["submitted", "已受理", "completed", "不满意"]
    assert "已送达" in entries[1].detail and "台账" in entries[3].detail


def test_form_errors_read_in_chinese_and_service_errors_keep_the_services_words():
    assert domain.form_errors([{"loc": ("helper_id",), "type": "string_pattern_mismatch", "msg": "x"}]) == {
        "helper_id": "格式不正确"}
    assert domain.service_errors([{"field": "body.helper_id", "message": "unknown helper"}]) == {
        "helper_id": "unknown helper"}


def test_a_pending_login_is_used_once_with_its_own_state_and_expires():
    store = SessionStore(login_ttl=timedelta(minutes=10))
    key = store.begin_login(state="s-1", verifier="v", next_path="/sla", now=NOW)
    assert store.finish_login(key, "s-2", NOW) is None  # wrong state: refused, and gone
    key = store.begin_login(state="s-1", verifier="v", next_path="/sla", now=NOW)
    assert store.finish_login(key, "s-1", NOW).next_path == "/sla"
    assert store.finish_login(key, "s-1", NOW) is None  # used once
    key = store.begin_login(state="s-1", verifier="v", next_path="/", now=NOW)
    assert store.finish_login(key, "s-1", NOW + timedelta(minutes=11)) is None


def test_a_session_ends_at_its_expiry_and_checks_its_csrf_token():
    store = SessionStore(max_sessions=2)
    s = store.create(token="t", principal=Principal("u", Role.SUPERVISOR), expires_at=NOW + timedelta(hours=1),
                     now=NOW)
    assert store.get(s.id, NOW) is s and s.csrf_ok(s.csrf) and not s.csrf_ok("x") and not s.csrf_ok(None)
    assert store.get(s.id, NOW + timedelta(hours=2)) is None
    for _ in range(3):
        store.create(token="t", principal=Principal("u", Role.SUPERVISOR), expires_at=NOW + timedelta(hours=1), now=NOW)
    assert len(store._sessions) == 2  # the oldest go first


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_an_asset_is_extracted_only_when_its_integrity_matches(tmp_path):
    data = _tarball({"package/dist/x.js": b"ok()"})
    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    pkg = assets.Package("x", "1.0.0", "https://registry.npmjs.org/x/-/x-1.0.0.tgz", good,
                         {"package/dist/x.js": "x.js"})
    assets.extract(pkg, data, tmp_path)
    assert (tmp_path / "x.js").read_bytes() == b"ok()"
    tampered = assets.Package("x", "1.0.0", pkg.tarball, good, pkg.files)
    with pytest.raises(ValueError, match="integrity mismatch"):
        assets.extract(tampered, data + b"\0", tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_the_pinned_assets_are_installed():
    assert assets.missing() == [], "make install fetches them (python -m console.assets)"
