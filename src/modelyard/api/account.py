"""Account endpoints in OpenRouter's shapes: key management (provisioning key), the calling
key's limits and usage, credits, and one generation's record."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.accounts.fields import interval_text, iso, key_fields
from modelyard.accounts.keys import KeyInfo
from modelyard.accounts.records import openrouter_shape
from modelyard.accounts.service import ANONYMOUS, Accounts, Caller
from modelyard.api.body import read_json
from modelyard.core.errors import BadRequest, NotFound, Unauthorized
from modelyard.core.money import to_usd

MAX_BODY = 64 * 1024


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _accounts(request: Request) -> Accounts:
    return request.app.state.accounts


def _caller(request: Request) -> Caller:
    caller = getattr(request.state, "caller", None)
    if caller is None:
        raise Unauthorized("Missing Authentication header", code=401)
    return caller


async def _admin(request: Request) -> Accounts:
    accounts = _accounts(request)
    await accounts.authenticate(request.headers, admin=True)
    return accounts


def _rate_limit(key: KeyInfo, accounts: Accounts) -> dict[str, Any] | None:
    rate = key.rate_limit or accounts.default_key_rate
    if rate is None:
        return None
    return {"requests": rate[0], "interval": interval_text(rate[1])}


async def _key_object(accounts: Accounts, key: KeyInfo) -> dict[str, Any]:
    usage = await accounts.store.usage(key.hash)
    period = usage.in_period(key.limit_reset)
    return {
        "hash": key.hash,
        "name": key.name,
        "label": key.label,
        "disabled": key.disabled,
        "limit": to_usd(key.limit),
        "limit_remaining": to_usd(max(0, key.limit - period)) if key.limit is not None else None,
        "limit_reset": key.limit_reset,
        "include_byok_in_limit": False,
        "allowed_models": list(key.allowed_models) if key.allowed_models is not None else None,
        "rate_limit": _rate_limit(key, accounts),
        "usage": to_usd(usage.total),
        "usage_daily": to_usd(usage.daily),
        "usage_weekly": to_usd(usage.weekly),
        "usage_monthly": to_usd(usage.monthly),
        "byok_usage": 0,
        "byok_usage_daily": 0,
        "byok_usage_weekly": 0,
        "byok_usage_monthly": 0,
        "created_at": iso(key.created_at),
        "updated_at": iso(key.updated_at),
        "expires_at": iso(key.expires_at),
    }


async def _find(accounts: Accounts, key_hash: str) -> KeyInfo:
    key = await accounts.store.get(key_hash)
    if key is None:
        raise NotFound(f"No key with hash {key_hash[:80]!r}", param="hash", code=404)
    return key


# -- /keys (provisioning key) ---------------------------------------------------------------


async def list_keys(request: Request) -> Response:
    accounts = await _admin(request)
    params = request.query_params
    offset_text = params.get("offset", "0")
    if not offset_text.isdigit() or int(offset_text) > 10**9:
        raise BadRequest("Invalid offset: a non-negative integer", param="offset", code=400)
    include = params.get("include_disabled", "false").lower()
    if include not in {"true", "false", "1", "0"}:
        raise BadRequest(
            "Invalid include_disabled: true or false", param="include_disabled", code=400
        )
    keys = await accounts.store.list(int(offset_text), include in {"true", "1"})
    return _json({"data": [await _key_object(accounts, k) for k in keys]})


async def create_key(request: Request) -> Response:
    accounts = await _admin(request)
    fields = key_fields(
        await read_json(request, MAX_BODY), request.app.state.gateway.catalog, creating=True
    )
    key, plaintext = await accounts.store.create(**fields)
    await accounts.keys.changed()
    return _json({"data": await _key_object(accounts, key), "key": plaintext}, status=201)


async def get_key(request: Request) -> Response:
    accounts = await _admin(request)
    key = await _find(accounts, request.path_params["hash"])
    return _json({"data": await _key_object(accounts, key)})


async def update_key(request: Request) -> Response:
    accounts = await _admin(request)
    key_hash = request.path_params["hash"]
    await _find(accounts, key_hash)
    fields = key_fields(
        await read_json(request, MAX_BODY), request.app.state.gateway.catalog, creating=False
    )
    key = await accounts.store.update(key_hash, **fields)
    if key is None:
        raise NotFound(f"No key with hash {key_hash[:80]!r}", param="hash", code=404)
    await accounts.keys.changed()
    return _json({"data": await _key_object(accounts, key)})


async def delete_key(request: Request) -> Response:
    accounts = await _admin(request)
    key_hash = request.path_params["hash"]
    if not await accounts.store.delete(key_hash):
        raise NotFound(f"No key with hash {key_hash[:80]!r}", param="hash", code=404)
    await accounts.keys.changed()
    return _json({"deleted": True})


# -- the calling key ------------------------------------------------------------------------


async def current_key(request: Request) -> Response:
    accounts = _accounts(request)
    await accounts.records.flush()  # this process's own requests count at once
    caller = _caller(request)
    key = caller.key
    if caller.admin or key is ANONYMOUS or key.static:
        usage = await accounts.store.usage(None if caller.admin else key.hash)
        label = "provisioning key" if caller.admin else key.name
        data: dict[str, Any] = {
            "label": label,
            "limit": None,
            "limit_remaining": None,
            "limit_reset": None,
            "include_byok_in_limit": False,
            "usage": to_usd(usage.total),
            "usage_daily": to_usd(usage.daily),
            "usage_weekly": to_usd(usage.weekly),
            "usage_monthly": to_usd(usage.monthly),
            "rate_limit": None if caller.admin else _rate_limit(key, accounts),
        }
    else:
        data = await _key_object(accounts, key)
        for field in ("hash", "created_at", "updated_at", "disabled", "name"):
            data.pop(field)
    data.update(
        {
            "is_free_tier": False,
            "is_provisioning_key": caller.admin,
            "is_management_key": caller.admin,
            "byok_usage": 0,
            "byok_usage_daily": 0,
            "byok_usage_weekly": 0,
            "byok_usage_monthly": 0,
        }
    )
    return _json({"data": data})


async def credits(request: Request) -> Response:
    accounts = _accounts(request)
    await accounts.records.flush()
    caller = _caller(request)
    if caller.admin:
        usage = await accounts.store.usage(None)
        total = await accounts.store.total_limits()
        return _json({"data": {"total_credits": to_usd(total), "total_usage": to_usd(usage.total)}})
    usage = await accounts.store.usage(caller.key.hash)
    limit = caller.key.limit
    return _json({"data": {"total_credits": to_usd(limit), "total_usage": to_usd(usage.total)}})


async def generation(request: Request) -> Response:
    accounts = _accounts(request)
    caller = _caller(request)
    generation_id = request.query_params.get("id", "")
    if not generation_id or len(generation_id) > 128:
        raise BadRequest("Invalid id: send ?id=gen-...", param="id", code=400)
    record = accounts.records.pending(generation_id)
    if record is None:
        record = await accounts.db.fetchrow(
            "SELECT * FROM generations WHERE id = $1", generation_id
        )
    owner = None if caller.key is ANONYMOUS else caller.key.hash
    if record is None or (not caller.admin and record["key_hash"] != owner):
        raise NotFound(f"Generation {generation_id} not found", param="id", code=404)
    return _json({"data": openrouter_shape(record)})


def routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/keys", list_keys, methods=["GET"]),
        Route(f"{prefix}/keys", create_key, methods=["POST"]),
        Route(f"{prefix}/keys/{{hash}}", get_key, methods=["GET"]),
        Route(f"{prefix}/keys/{{hash}}", update_key, methods=["PATCH"]),
        Route(f"{prefix}/keys/{{hash}}", delete_key, methods=["DELETE"]),
        Route(f"{prefix}/key", current_key, methods=["GET"]),
        Route(f"{prefix}/auth/key", current_key, methods=["GET"]),
        Route(f"{prefix}/credits", credits, methods=["GET"]),
        Route(f"{prefix}/generation", generation, methods=["GET"]),
    ]
