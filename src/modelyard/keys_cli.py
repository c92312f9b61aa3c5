"""`modelyard keys create|list|disable`: manage inference keys straight in the database,
for a first key before any provisioning key exists, or from a shell on the server."""

from __future__ import annotations

import argparse
import asyncio
import sys

from modelyard.accounts.directory import KeyDirectory
from modelyard.accounts.fields import iso
from modelyard.accounts.keys import KeyStore
from modelyard.accounts.periods import RESETS
from modelyard.config import load_settings
from modelyard.core.money import to_nano, to_usd
from modelyard.schema import MIGRATIONS
from modelyard.store.database import Database


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = sub.add_parser("keys", help="create, list or disable inference keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key; prints it once")
    create.add_argument("--name", required=True)
    create.add_argument("--limit", type=float, help="credit limit in USD (default: none)")
    create.add_argument("--limit-reset", choices=RESETS, help="when the limit resets")
    create.add_argument(
        "--allow-model", action="append", dest="allowed_models", help="repeat for each model"
    )
    listing = actions.add_parser("list", help="list keys (never their plaintext)")
    listing.add_argument("--all", action="store_true", help="include disabled keys")
    disable = actions.add_parser("disable", help="disable a key by hash, hash prefix or name")
    disable.add_argument("key")
    for parser in (create, listing, disable):
        parser.add_argument("--config", help="TOML config file")
    keys.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    db = await Database(settings.database_url).connect(migrations=MIGRATIONS)
    redis = None
    if settings.redis_url:
        import redis.asyncio

        redis = redis.asyncio.Redis.from_url(settings.redis_url)
    store = KeyStore(db)
    # Tells running gateways (through Redis, or the database version) to forget cached keys.
    directory = KeyDirectory(store, [], None, redis)
    try:
        if args.action == "create":
            if args.limit is not None and args.limit < 0:
                print("modelyard: --limit must be >= 0", file=sys.stderr)
                return 2
            key, plaintext = await store.create(
                name=args.name,
                limit=to_nano(args.limit) if args.limit is not None else None,
                limit_reset=args.limit_reset,
                allowed_models=tuple(args.allowed_models) if args.allowed_models else None,
            )
            await directory.changed()
            print(f"created key {key.hash[:16]} ({key.name}); it is shown only once:")
            print(plaintext)
        elif args.action == "list":
            offset = 0
            while page := await store.list(offset, include_disabled=args.all):
                for key in page:
                    limit = f"${to_usd(key.limit):g}" if key.limit is not None else "no limit"
                    state = "disabled" if key.disabled else "active"
                    print(
                        f"{key.hash[:16]}  {key.label:20}  {state:8}  {limit:>12} "
                        f"{key.limit_reset or '':8} {iso(key.created_at)}  {key.name}"
                    )
                offset += len(page)
        else:
            key = await store.find(args.key)
            if key is None:
                print(f"modelyard: no single key matches {args.key!r}", file=sys.stderr)
                return 1
            await store.update(key.hash, disabled=True)
            await directory.changed()
            print(f"disabled key {key.hash[:16]} ({key.name})")
        return 0
    finally:
        await db.close()
        if redis is not None:
            await redis.aclose()
