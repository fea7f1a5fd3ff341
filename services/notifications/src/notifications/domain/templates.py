"""zh-CN message templates: versioned, with personalisation fields checked at render time.

A template is immutable once published: a change of wording is a new version of the same
key (``registration.step_returned@2``); every message records the template id it was
rendered from. The catalog renders a key's *active* version (the highest, unless a
version is pinned in the settings). A field missing (or blank) at render time raises
:class:`TemplateFieldMissing`: a message never goes out with a gap in it.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from notifications.domain.errors import TemplateError, TemplateFieldMissing
from servicekit.clock import CN_TZ, ensure_utc

_FORMATTER = string.Formatter()
SIGNATURE = "【一窗通办】"


def template_fields(text: str) -> frozenset[str]:
    """The ``{field}`` names used in ``text``; only plain identifiers are allowed."""
    names: set[str] = set()
    for _, name, spec, conversion in _FORMATTER.parse(text):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise TemplateError(f"template field {{{name}}} must be a plain identifier")
        names.add(name)
    return frozenset(names)


@dataclass(frozen=True)
class Rendered:
    template_id: str
    title: str
    text: str
    urgent: bool
    ttl: timedelta


@dataclass(frozen=True)
class Template:
    key: str
    version: int
    title: str
    body: str
    urgent: bool = False  # urgent messages ignore quiet hours
    ttl_hours: float = 24.0  # undelivered after this long: expired

    def __post_init__(self) -> None:
        if self.version < 1:
            raise TemplateError(f"{self.key}: versions start at 1")
        self.fields  # noqa: B018 - validates the field names now

    @property
    def id(self) -> str:
        return f"{self.key}@{self.version}"

    @property
    def fields(self) -> frozenset[str]:
        return template_fields(self.title) | template_fields(self.body)

    def render(self, values: Mapping[str, Any]) -> Rendered:
        missing = sorted(f for f in self.fields if values.get(f) is None or str(values.get(f)).strip() == "")
        if missing:
            raise TemplateFieldMissing(self.id, missing)
        subst = {f: values[f] for f in self.fields}
        return Rendered(self.id, self.title.format_map(subst), self.body.format_map(subst), self.urgent,
                        timedelta(hours=self.ttl_hours))


class TemplateCatalog:
    """All published templates; renders a key's active version."""

    def __init__(self, templates: Iterable[Template], pinned: Mapping[str, int] | None = None) -> None:
        self._by_id: dict[str, Template] = {}
        for t in templates:
            if t.id in self._by_id:
                raise TemplateError(f"template {t.id} is published twice")
            self._by_id[t.id] = t
        self._active: dict[str, int] = {}
        for t in self._by_id.values():
            self._active[t.key] = max(self._active.get(t.key, 0), t.version)
        for key, version in (pinned or {}).items():
            if f"{key}@{version}" not in self._by_id:
                raise TemplateError(f"cannot pin {key}@{version}: no such template")
            self._active[key] = version

    def get(self, key: str, version: int | None = None) -> Template:
        v = version if version is not None else self._active.get(key)
        template = self._by_id.get(f"{key}@{v}")
        if template is None:
            raise TemplateError(f"no template {key}@{v}")
        return template

    def render(self, key: str, values: Mapping[str, Any], version: int | None = None) -> Rendered:
        return self.get(key, version).render(values)

    def __iter__(self) -> Iterator[Template]:
        return iter(sorted(self._by_id.values(), key=lambda t: (t.key, t.version)))


def local_time(dt: datetime) -> str:
    """Beijing time for people: ``2025年3月4日 24:00`` (a deadline at 00:00 is the day before's 24:00)."""
    local = ensure_utc(dt).astimezone(CN_TZ)
    if local.time() == time(0):
        day = local - timedelta(days=1)
        return f"{day.year}年{day.month}月{day.day}日 24:00"
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


# -- the published templates -----------------------------------------------------------------
TEMPLATES: tuple[Template, ...] = (
    # Applicants
    Template("registration.submitted", 1, "申请已提交",
             "您的企业开办申请（{company_name}）已提交，申请号 {case_number}。窗口审核后将通知您。"),
    Template("registration.incomplete", 1, "申请材料需补充",
             "您的申请 {case_number} 材料需补充（一次性告知）：{missing}。请补齐后再次提交。", urgent=True),
    Template("registration.accepted", 1, "申请已受理",
             "您的企业开办申请（{company_name}）已受理，办件号 {case_number}，承诺于 {due_local} 前办结。"),
    Template("registration.step_approved", 1, "办理进度",
             "办件 {case_number}：{step_name}已由{department_name}办结。"),
    Template("registration.step_returned", 1, "需要补正",
             "办件 {case_number}：{department_name}退回{step_name}，请补正：{reasons}。只需修改所列内容，其余环节照常办理。",
             urgent=True),
    Template("registration.licence_issued", 1, "营业执照已核发",
             "办件 {case_number}：{company_name}的营业执照已核发，统一社会信用代码 {unified_social_credit_code}。"),
    Template("registration.case_completed", 1, "企业开办已办结",
             "办件 {case_number}：{company_name}企业开办全部办结，请到综合窗口统一领取结果。"
             "欢迎对本次服务作出评价（好差评）：在一窗通办App或小程序“我的办件”中选择该办件即可评价。",
             ttl_hours=72),
    Template("registration.case_rejected", 1, "申请未通过",
             "办件 {case_number}：{step_name}未获{department_name}通过，原因：{reason}。如有疑问请联系窗口或帮办人员。"),
    # Construction project approvals (工程建设项目审批)
    Template("approvals.item_returned", 1, "审批事项需补正",
             "项目 {project_code}（{stage_name}，办件 {case_number}）：{item_name}需补正：{reasons}。"
             "只需修改所列内容，其余事项的审批结果保留。", urgent=True),
    Template("approvals.stage_completed", 1, "阶段审批已办结",
             "项目 {project_name}（{project_code}）{stage_name}阶段已办结，办件 {case_number}，"
             "核发：{documents}。请到综合窗口统一领取；欢迎对本次服务作出评价（好差评）。", ttl_hours=72),
    Template("approvals.project_completed", 1, "项目审批全部办结",
             "项目 {project_name}（{project_code}）四个阶段审批全部办结，共核发 {count} 件证照。", ttl_hours=72),
    # Cross-region cases (跨省通办 / 省内通办): the applicant is told each step where they applied
    Template("crossregion.opened", 1, "跨地区办件已受理",
             "您的{matter_name}申请（{mode_name}）已在本窗口受理，编号 {case_number}，已转{region_names}办理。"),
    Template("crossregion.received", 1, "异地申请已接收",
             "您的{matter_name}申请（{mode_name}）已由{region_names}接收办理，编号 {case_number}。"),
    Template("crossregion.progressed", 1, "跨地区办理进度",
             "办件 {case_number}（{matter_name}）：{region_name}{status_name}。{detail}"),
    Template("crossregion.result_ready", 1, "办理结果可领取",
             "办件 {case_number}（{matter_name}）已办结，结果已到达本窗口，请携带身份证件领取。", ttl_hours=72),
    Template("crossregion.completed", 1, "跨地区办件已办结",
             "办件 {case_number}（{matter_name}）已全部办结。欢迎对本次服务作出评价（好差评）：在一窗通办App或小程序"
             "“我的办件”中选择该办件即可评价。", ttl_hours=72),
    # Staff
    Template("staff.step_to_review", 1, "待审批事项",
             "办件 {case_number} 的{step_name}（第{attempt}次提交）待{department_name}审批，请于 {due_local} 前办理。"),
    Template("staff.deadline_warning", 1, "办件即将到期",
             "预警：办件 {case_number} 将于 {due_local} 到期，未办结环节：{pending_steps}。", urgent=True, ttl_hours=8),
    Template("staff.case_overdue", 1, "办件已超期",
             "超期：办件 {case_number} 已超过办理时限（{due_local}），未办结环节：{pending_steps}。请立即跟进。",
             urgent=True),
    # Published for the ratings service's events (好差评): they join once it emits them.
    Template("staff.bad_rating_assigned", 1, "差评待回访",
             "办件 {case_number} 收到差评，已分派给您回访核实，请于 {due_local} 前回复。", urgent=True),
    Template("staff.rectification_due", 1, "整改即将到期",
             "办件 {case_number} 的差评整改须于 {due_local} 前反馈。", urgent=True),
    Template("applicant.rectification_feedback", 1, "差评整改反馈",
             "您对办件 {case_number} 的评价已处理：{feedback}"),
    Template("applicant.consultation_reply", 1, "咨询答复",
             "您的{kind}（编号 {case_number}）已由{department_name}答复：{reply}"),
    # The ratings service's other events (好差评)
    Template("applicant.rating_invitation", 1, "邀请您评价",
             "办件 {case_number} 已办结，请对本次服务作出评价（好差评）：{rating_url} 链接仅可评价一次，{expires_local} 前有效。",
             ttl_hours=72),
    Template("applicant.rating_explanation", 1, "差评处理说明",
             "您对办件 {case_number} 的评价已核实，说明如下：{explanation}"),
    Template("staff.rectification_overdue", 1, "整改已超期",
             "超期：办件 {case_number} 的差评整改反馈已超过时限（{due_local}），请立即处理。", urgent=True),
    Template("staff.request_to_answer", 1, "待答复事项",
             "收到{kind}（编号 {case_number}），请{department_name}于 {due_local} 前答复。"),
    Template("staff.card_mismatch", 1, "评价卡核对不符",
             "告警：{day} {window_id} 窗口评价卡核对不符（发放 {issued}，投入 {used}，退回 {returned}，作废 {void}），"
             "未对上的卡号：{missing}。", urgent=True),
)


def default_catalog(pinned: Mapping[str, int] | None = None) -> TemplateCatalog:
    return TemplateCatalog(TEMPLATES, pinned)
