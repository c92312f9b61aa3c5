"""Page load times with 100,000 generation records spread over a year.

    python -m bench.web_pages                       # SQLite, 100,000 records
    python -m bench.web_pages --records 20000
    python -m bench.web_pages --database postgresql://postgres@127.0.0.1:5432/test

Fills a fresh database with records (several models, providers, apps and keys) and starts a
gateway on it (engine off), which builds the hourly rollups at start, in the background.
Loads the first page at once (it waits for that build: the worst case), then every page
`--repeat` times, and prints the median and worst time of each, in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from bench.procs import Proc, free_port, wait_http
from modelyard.accounts.records import COLUMNS
from modelyard.schema import MIGRATIONS
from modelyard.store.database import Database

MODELS = [
    "openai/gpt-5-mini",
    "openai/gpt-5.4-mini",
    "openai/o3-mini",
    "openai/gpt-5-image-mini",
    "huggingfacetb/smollm2-135m-instruct",
]
PROVIDERS = ["OpenAI", "OpenRouter", "AIML API"]
APPS = [(f"https://app{i}.example", f"App {i}") for i in range(12)] + [(None, None)]
KEYS = [secrets.token_hex(32) for _ in range(8)] + [None]
YEAR = 365 * 86_400
PAGES = [
    "/",
    "/models",
    "/models/openai/gpt-5-mini",
    "/models/openai/gpt-5-mini/providers",
    "/models/openai/gpt-5-mini/performance",
    "/models/openai/gpt-5-mini/pricing",
    "/models/openai/gpt-5-mini/activity",
    "/models/openai/gpt-5-mini/uptime",
    "/models/openai/gpt-5-mini/apps",
    "/models/openai/gpt-5-mini/api",
    "/chat",
    "/rankings?period=day",
    "/rankings?period=month",
    "/activity",
    "/activity?days=365&model=openai/o3-mini&page=3",
]


def _records(count: int, now: float) -> list[tuple[object, ...]]:
    rng = random.Random(7)
    rows = []
    for i in range(count):
        at = now - rng.random() * YEAR
        model = rng.choice(MODELS)
        provider = rng.choice(PROVIDERS)
        referer, title = rng.choice(APPS)
        failed = rng.random() < 0.02
        attempts = [{"provider": provider, "model": model, "status": 502 if failed else 200}]
        record = {
            "id": f"gen-{int(at)}-{i:020d}",
            "key_hash": rng.choice(KEYS),
            "created_at": at,
            "model": model,
            "provider_name": provider,
            "upstream_id": None,
            "api_type": "completions",
            "streamed": 1,
            "cancelled": 0,
            "finish_reason": "error" if failed else "stop",
            "native_finish_reason": None,
            "error_status": 502 if failed else None,
            "latency_ms": None if failed else rng.uniform(150, 900),
            "generation_ms": None if failed else rng.uniform(500, 8000),
            "tokens_prompt": rng.randint(20, 4000),
            "tokens_completion": 0 if failed else rng.randint(10, 2000),
            "tokens_cached": 0,
            "tokens_cache_write": 0,
            "tokens_reasoning": 0,
            "cost": rng.randint(1_000, 5_000_000),
            "http_referer": referer,
            "app_title": title,
            "attempts": orjson.dumps(attempts).decode(),
        }
        rows.append(tuple(record[c] for c in COLUMNS))
    return rows


async def _fill(url: str, count: int) -> float:
    db = await Database(url).connect(migrations=MIGRATIONS)
    started = time.perf_counter()
    try:
        insert = (
            f"INSERT INTO generations ({', '.join(COLUMNS)}) VALUES "
            f"({', '.join(f'${i + 1}' for i in range(len(COLUMNS)))})"
        )
        rows = _records(count, time.time())
        for start in range(0, len(rows), 5_000):
            await db.executemany(insert, rows[start : start + 5_000])
    finally:
        await db.close()
    return time.perf_counter() - started


def _time(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url}: HTTP {response.status_code}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--database", help="a postgresql:// URL (a fresh schema is used)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.database:
            url = f"{args.database}?schema=bench_web_{secrets.token_hex(4)}"
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        fill_s = asyncio.run(_fill(url, args.records))
        print(f"inserted {args.records} records in {fill_s:.1f} s ({url.split(':')[0]})")
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")},
            "MODELYARD_DATABASE_URL": url,
            "MODELYARD_ENGINE": "0",
            "MODELYARD_LOG_LEVEL": "warning",
        }
        proc = Proc(
            [sys.executable, "-m", "modelyard", "serve", "--port", str(port)],
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/health")
            with httpx.Client(base_url=base, timeout=120) as client:
                first = _time(client, "/rankings")
                print(f"first page at start (waits for the rollups' build): {first:.0f} ms")
                print(f"{'page':55} {'median ms':>10} {'max ms':>8}")
                for path in PAGES:
                    times = [_time(client, path) for _ in range(args.repeat)]
                    print(f"{path:55} {statistics.median(times):10.1f} {max(times):8.1f}")
        finally:
            proc.stop()
            if args.database:
                schema = url.rsplit("schema=", 1)[1]
                subprocess.run(
                    ["psql", args.database, "-c", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'],
                    check=False,
                    capture_output=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
