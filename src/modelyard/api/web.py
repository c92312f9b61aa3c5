"""The web pages, at the same address as the API: home, /models, model pages with their
tabs, the chat playground, rankings, activity, sign-in and key management.

Handlers gather data and render a template; the numbers come from the catalog, the live
endpoint health (the same payload as the endpoints API) and the hourly rollups."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from modelyard.gateway.gateway import Gateway
from modelyard.stats import generation_log
from modelyard.stats.rollup import Rollup
from modelyard.stats.usage import PERIODS, Series, UsageStats
from modelyard.web import session
from modelyard.web.catalog_view import (
    SORTS,
    ModelQuery,
    endpoint_rows,
    facets,
    is_served,
    modalities,
)
from modelyard.web.parameters import describe
from modelyard.web.render import page
from modelyard.web.samples import samples, streaming_samples

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
TABS = ("", "providers", "performance", "pricing", "activity", "uptime", "apps", "api")
CHART_TABS = {"performance", "activity", "uptime"}
PLAYGROUND_TITLE = "modelyard Playground"


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/api/v1"


async def _stats(request: Request) -> UsageStats:
    """The usage queries, with this process's queued records written and the rollups
    brought up to date first, so a page shows the request that was just made."""
    state = request.app.state
    await state.accounts.records.flush()
    rollup: Rollup = state.web_rollup
    await rollup.fresh()
    return UsageStats(state.database)


async def _render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    context["identity"] = await session.current(request)
    context["auth_required"] = not session.gateway_open(request)
    return page(request, template, status, **context)


async def not_found(request: Request, message: str) -> Response:
    return await _render(request, "not_found.html", 404, message=message)


# -- catalog -------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    gateway = _gateway(request)
    stats = await _stats(request)
    return await _render(
        request,
        "home.html",
        models=[m for m in gateway.catalog if is_served(gateway, m)],
        weekly=await stats.weekly_tokens(),
        top_models=(await stats.top_models(PERIODS["week"], limit=5)),
    )


async def models_page(request: Request) -> Response:
    gateway = _gateway(request)
    query = ModelQuery.parse(request.query_params)
    weekly = await (await _stats(request)).weekly_tokens()
    return await _render(
        request,
        "models.html",
        nav="models",
        query=query,
        models=query.apply(gateway, weekly),
        weekly=weekly,
        facets=facets(gateway),
        sorts=SORTS,
        served={m.id for m in gateway.catalog if is_served(gateway, m)},
    )


async def model_page(request: Request) -> Response:
    gateway = _gateway(request)
    model_id = f"{request.path_params['author']}/{request.path_params['slug']}"
    tab = request.path_params.get("tab", "")
    model = gateway.catalog.get(model_id)
    if model is None or tab not in TABS:
        return await not_found(request, f"There is no model page {request.url.path!r}.")
    stats = await _stats(request)
    context: dict[str, Any] = {
        "nav": "models",
        "model": model,
        "tab": tab,
        "served": is_served(gateway, model),
        "modalities": modalities(model),
        "weekly_tokens": (await stats.weekly_tokens()).get(model.id, 0),
        "rows": endpoint_rows(gateway, model),
        "charts": tab in CHART_TABS,
    }
    if tab == "performance":
        context["latency"], context["throughput"] = await stats.performance(model.id)
    elif tab == "activity":
        context["tokens"] = await stats.tokens_per_day(model.id)
    elif tab == "uptime":
        context["uptime"] = await stats.uptime(model.id)
    elif tab == "apps":
        context["apps"] = await stats.top_apps(model.id, PERIODS["month"])
    elif tab == "api":
        base = _base_url(request)
        context["base_url"] = base
        context["samples"] = samples(base, model.id)
        context["streaming"] = streaming_samples(base, model.id)
        context["parameters"] = describe(model.supported_parameters)
    return await _render(request, "model.html", **context)


# -- playground and rankings ---------------------------------------------------------------


async def chat_page(request: Request) -> Response:
    gateway = _gateway(request)
    served = [m for m in gateway.catalog if is_served(gateway, m)]
    wanted = [m for m in request.query_params.getlist("model") if gateway.catalog.get(m)]
    selected = set(wanted or [m.id for m in served[:1]])
    base = _base_url(request)
    return await _render(
        request,
        "chat.html",
        nav="chat",
        models=served,
        selected=selected,
        base_url=base,
        config={
            "base_url": base,
            "app_title": PLAYGROUND_TITLE,
            "names": {m.id: m.name for m in served},
        },
    )


async def rankings_page(request: Request) -> Response:
    gateway = _gateway(request)
    period = request.query_params.get("period", "week")
    period = period if period in PERIODS else "week"
    stats = await _stats(request)
    models = await stats.top_models(PERIODS[period])
    daily = await stats.models_per_day([r.name for r in models[:8]])
    return await _render(
        request,
        "rankings.html",
        nav="rankings",
        period=period,
        models=models,
        apps=await stats.top_apps(None, PERIODS[period]),
        daily=daily,
        names={m.id: m.name for m in gateway.catalog},
    )


# -- one key's activity --------------------------------------------------------------------


async def _activity_scope(request: Request) -> tuple[bool, str | None]:
    """(allowed, key hash to filter on): an open gateway or the admin sees every key."""
    identity = await session.current(request)
    if identity is None:
        return session.gateway_open(request), None
    return True, None if identity.admin else identity.key_hash


def _signin_redirect(request: Request) -> Response:
    return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)


async def activity_page(request: Request) -> Response:
    allowed, key_hash = await _activity_scope(request)
    if not allowed:
        return _signin_redirect(request)
    params = request.query_params
    days_text = params.get("days", "30")
    days = int(days_text) if days_text.isdigit() and 0 < int(days_text) <= 366 else 30
    page_text = params.get("page", "1")
    number = int(page_text) if page_text.isdigit() and int(page_text) > 0 else 1
    stats = await _stats(request)
    series, totals = await stats.key_activity(key_hash, days)
    filters = generation_log.LogFilter.parse(params, key_hash)
    db = request.app.state.database
    rows, has_next = await generation_log.page(db, filters, number)
    split = {name: Series(series.times, {name: values}) for name, values in series.lines.items()}
    return await _render(
        request,
        "activity.html",
        nav="activity",
        scope_all=key_hash is None,
        days=days,
        totals=totals,
        requests=split["Requests"],
        tokens=split["Tokens"],
        spend=split["Spend (USD)"],
        filters=filters,
        query=filters.query_string(),
        statuses=generation_log.STATUSES,
        models_used=await generation_log.models_used(db, key_hash),
        rows=rows,
        page_number=number,
        has_next=has_next,
    )


async def activity_csv(request: Request) -> Response:
    allowed, key_hash = await _activity_scope(request)
    if not allowed:
        return _signin_redirect(request)
    filters = generation_log.LogFilter.parse(request.query_params, key_hash)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return StreamingResponse(
        generation_log.csv_rows(request.app.state.database, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="generations-{stamp}.csv"'},
    )


# -- sign-in -------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no //host)."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/activity"


async def signin_page(request: Request) -> Response:
    next_url = _safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return await _render(
            request, "signin.html", nav="signin", next=next_url, open=session.gateway_open(request)
        )
    form = await request.form()
    next_url = _safe_next(str(form.get("next") or ""))
    identity = await session.verify(request, str(form.get("key") or ""))
    if identity is None:
        return await _render(
            request,
            "signin.html",
            401,
            nav="signin",
            next=next_url,
            open=session.gateway_open(request),
            error="That key was not accepted: it is unknown, disabled or expired.",
        )
    response = RedirectResponse("/keys" if identity.admin else next_url, status_code=303)
    await session.sign_in(request, response, identity)
    return response


async def signout(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    await session.sign_out(request, response)
    return response


# -- key management (the provisioning key) -------------------------------------------------


async def _admin(request: Request) -> bool:
    identity = await session.current(request)
    return identity is not None and identity.admin


async def keys_page(request: Request, **extra: Any) -> Response:
    if not await _admin(request):
        return _signin_redirect(request)
    store = request.app.state.accounts.store
    keys = await store.list(include_disabled=True)
    usage = {}
    for key in keys:
        spent = await store.usage(key.hash)
        usage[key.hash] = spent.in_period(key.limit_reset) / 1e9
    return await _render(request, "keys.html", nav="keys", keys=keys, usage=usage, **extra)


def _key_fields(form: Any) -> dict[str, Any]:
    """Form fields to KeyStore fields; ValueError names the bad one."""
    name = str(form.get("name") or "").strip()
    if not name or len(name) > 100:
        raise ValueError("A key needs a name of at most 100 characters.")
    fields: dict[str, Any] = {"name": name}
    limit = str(form.get("limit") or "").strip()
    if limit:
        try:
            amount = Decimal(limit)
        except InvalidOperation:
            amount = Decimal(-1)
        if not amount.is_finite() or amount < 0:
            raise ValueError("The credit limit must be a number of dollars, 0 or more.")
        fields["limit"] = int(amount * 1_000_000_000)
    reset = str(form.get("limit_reset") or "")
    if reset:
        if reset not in ("daily", "weekly", "monthly"):
            raise ValueError("The limit reset must be daily, weekly or monthly.")
        fields["limit_reset"] = reset
    models = [m.strip() for m in str(form.get("models") or "").split(",") if m.strip()]
    if models:
        fields["allowed_models"] = tuple(models)
    return fields


async def keys_create(request: Request) -> Response:
    if not await _admin(request):
        return _signin_redirect(request)
    form = await request.form()
    try:
        fields = _key_fields(form)
    except ValueError as exc:
        return await keys_page(request, error=str(exc))
    info, plaintext = await request.app.state.accounts.store.create(**fields)
    return await keys_page(request, created=plaintext, created_name=info.name)


async def keys_action(request: Request) -> Response:
    if not await _admin(request):
        return _signin_redirect(request)
    store = request.app.state.accounts.store
    key_hash = request.path_params["key_hash"]
    action = str((await request.form()).get("action") or "")
    if action == "delete":
        await store.delete(key_hash)
    elif action in ("disable", "enable"):
        await store.update(key_hash, disabled=action == "disable")
    return RedirectResponse("/keys", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/", home),
        Route("/models", models_page),
        Route("/models/{author}/{slug}", model_page),
        Route("/models/{author}/{slug}/{tab}", model_page),
        Route("/chat", chat_page),
        Route("/rankings", rankings_page),
        Route("/activity", activity_page),
        Route("/activity.csv", activity_csv),
        Route("/signin", signin_page, methods=["GET", "POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/keys", keys_page),
        Route("/keys", keys_create, methods=["POST"]),
        Route("/keys/{key_hash}", keys_action, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
