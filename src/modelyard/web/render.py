"""Server-rendered pages: one Jinja environment, the number filters, and the page response.

Templates are plain HTML with autoescaping; the little JS there is lives in static/."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from modelyard.web.format import FILTERS

_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def prose(text: str) -> Markup:
    """Catalog descriptions: paragraphs, and markdown links as links; everything escaped."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    out = []
    for paragraph in paragraphs:
        escaped = html.escape(paragraph)
        linked = _LINK.sub(r'<a href="\2" rel="noopener noreferrer">\1</a>', escaped)
        out.append(f"<p>{linked}</p>")
    return Markup("\n".join(out))


def json_script(value: Any) -> Markup:
    """Data for the page's JS inside <script type="application/json">; '<' escaped so no
    value can close the tag."""
    text = orjson.dumps(value).decode().replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text.replace("&", "\\u0026"))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("modelyard.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    env.filters["prose"] = prose
    env.filters["json_script"] = json_script
    env.filters["fmt_as"] = lambda value, name: FILTERS[name](value)
    return env


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render `template` with the request in context (the caller adds the identity)."""
    body = environment().get_template(template).render(request=request, **context)
    return HTMLResponse(
        body,
        status_code=status,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
