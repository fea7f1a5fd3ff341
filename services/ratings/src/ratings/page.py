"""The page the rating link opens (``GET /rate?token=…``): the five levels and a comment as a
plain HTML form, zh-CN, with no script and nothing fetched from elsewhere (a phone's browser,
a WeChat web view or a hall kiosk off the internet all show it). It posts back to ``/rate``,
which rates by token exactly as ``POST /ratings/by-token`` does. Every value shown is escaped;
the Content-Security-Policy allows nothing but the page's own style and form."""

from __future__ import annotations

from html import escape

from ratings.domain.levels import LABELS, Level

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
_STYLE = ("body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;max-width:32rem;margin:1.5rem auto;"
          "padding:0 1rem;line-height:1.6;color:#111;background:#fff}h1{font-size:1.4rem}fieldset{border:1px solid #999;"
          "padding:.5rem 1rem}label{display:block;padding:.4rem 0;font-size:1.1rem}textarea{width:100%;font:inherit}"
          "button{font-size:1.1rem;padding:.5rem 1.5rem;margin-top:1rem}.error{color:#a00;font-weight:bold}")


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>")


def form(token: str, *, error: str | None = None, level: str | None = None, comment: str = "") -> str:
    """The rating form; ``error`` (already in words for the person) above it when the last try failed."""
    choices = "".join(
        f'<label><input type="radio" name="level" value="{escape(lv.value)}" required'
        f'{" checked" if lv.value == level else ""}> {escape(LABELS[lv])}</label>' for lv in Level)
    notice = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _page("请对本次服务作出评价（好差评）", (
        f"{notice}<form method=\"post\" action=\"rate\">"
        f'<input type="hidden" name="token" value="{escape(token)}">'
        f"<fieldset><legend>满意程度</legend>{choices}</fieldset>"
        f'<p><label for="comment">意见或建议（可不填，500字以内）</label>'
        f'<textarea id="comment" name="comment" rows="4" maxlength="500">{escape(comment)}</textarea></p>'
        f'<button type="submit">提交评价</button></form>'))


def done(case_number: str, level: Level) -> str:
    bad = level in (Level.DISSATISFIED, Level.VERY_DISSATISFIED)
    follow = "我们将在3个工作日内回访并答复您。" if bad else "感谢您的评价。"
    return _page("评价已提交", f"<p>办件 {escape(case_number)}：{escape(LABELS[level])}。{follow}</p>")


def refused(reason: str) -> str:
    return _page("无法评价", f'<p class="error" role="alert">{escape(reason)}</p>'
                          "<p>如需帮助，请联系办理窗口或拨打12345热线。</p>")


__all__ = ["HEADERS", "done", "form", "refused"]
