"""Two gateway processes sharing PostgreSQL and Redis: key changes seen at once by both,
one budget raced by concurrent requests without overspending, and a database stopped and
restarted mid-load with every record accounted for afterwards.

The invalidation test uses the machine's PostgreSQL (a schema of its own); the restart test
starts a private PostgreSQL on another port so that stopping it disturbs nobody. They run
when the servers are reachable, and must run when CI=true (tests/postgres.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.accounts_helpers import (
    ADMIN,
    COST_PER_REQUEST,
    admin,
    chat,
    config,
    create_key,
    generation,
    key_info,
)
from tests.conftest import GatewayProcess
from tests.postgres import sql, unavailable
from tests.upstream_mock import MockUpstream, free_port

pytestmark = pytest.mark.postgres
PG_BIN = Path("/usr/lib/postgresql")


def _pair(
    tmp: pytest.TempPathFactory, upstream: MockUpstream, database_url: str, redis_url: str
) -> list[GatewayProcess]:
    processes = []
    for name in ("a", "b"):
        folder = tmp.mktemp(f"pg-{name}")
        processes.append(
            GatewayProcess(
                folder,
                config(upstream.url, upstream_model="lag"),
                {
                    "MODELYARD_ADMIN_KEY": ADMIN,
                    "MODELYARD_DATABASE_URL": database_url,
                    "MODELYARD_REDIS_URL": redis_url,
                    "MODELYARD_SPOOL_DIR": str(folder / "spool"),
                },
            ).start()
        )
    return processes


# -- the machine's PostgreSQL: key changes reach every process at once ------------------------


@pytest.fixture(scope="module")
def shared_pair(
    tmp_path_factory: pytest.TempPathFactory,
    upstream: MockUpstream,
    redis_url: str,
    module_postgres_url: str,
) -> Iterator[list[GatewayProcess]]:
    processes = _pair(tmp_path_factory, upstream, module_postgres_url, redis_url)
    yield processes
    for process in processes:
        process.stop()


def test_disabled_and_deleted_keys_refused_at_once_in_every_process(
    shared_pair: list[GatewayProcess],
) -> None:
    a, b = shared_pair
    key, data = create_key(a.base)
    assert chat(b.base, key).status_code == 200  # b caches the key
    admin(a.base, "PATCH", f"/keys/{data['hash']}", {"disabled": True})
    assert chat(b.base, key).status_code == 401
    assert chat(a.base, key).status_code == 401
    admin(b.base, "PATCH", f"/keys/{data['hash']}", {"disabled": False})
    assert chat(a.base, key).status_code == 200
    admin(b.base, "DELETE", f"/keys/{data['hash']}")
    assert chat(a.base, key).status_code == 401
    assert chat(b.base, key).status_code == 401
    # A rate limit counts across both processes.
    limited, _ = create_key(a.base, rate_limit={"requests": 3, "interval": "1h"})
    codes = [chat(p.base, limited).status_code for p in (a, b, a, b)]
    assert codes == [200, 200, 200, 429]


# -- a private PostgreSQL, stopped and restarted under load -----------------------------------


class PrivatePostgres:
    """A throwaway cluster in a temporary folder, on its own port."""

    def __init__(self, folder: Path) -> None:
        versions = sorted(PG_BIN.glob("*/bin/pg_ctl"))
        if not versions:
            raise FileNotFoundError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = versions[-1].parent
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # The server refuses to run as root; run it as the postgres user then.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> PrivatePostgres:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.prefix:
            shutil.chown(self.folder, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")
        return self.start()

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
            "-o", options, "-w", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    folder = Path(tempfile.mkdtemp(prefix="modelyard-pg-"))
    try:
        server = PrivatePostgres(folder).init()
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        unavailable("a private PostgreSQL (initdb, pg_ctl)", exc)
    yield server
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(server.folder, ignore_errors=True)


def _spool_files(*processes: GatewayProcess) -> list[Path]:
    return [f for p in processes for f in (p.config_path.parent / "spool").glob("*")]


def _wait_for_spool(*processes: GatewayProcess) -> list[Path]:
    """Records are flushed in the background; wait until those of the outage hit the disk."""
    deadline = time.monotonic() + 20
    while not (files := _spool_files(*processes)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return files


def test_two_processes_one_budget_database_restarted_mid_load(
    tmp_path_factory: pytest.TempPathFactory,
    upstream: MockUpstream,
    redis_url: str,
    private_postgres: PrivatePostgres,
) -> None:
    a, b = _pair(tmp_path_factory, upstream, private_postgres.url, redis_url)
    try:
        limit = 0.06
        key, data = create_key(a.base, limit=limit)
        statuses: dict[str, int] = {}
        served: list[str] = []
        unexpected: list[str] = []

        def one(i: int) -> int:
            response = chat((a, b)[i % 2].base, key)
            if response.status_code == 200:
                served.append(response.headers["x-generation-id"])
            elif response.status_code != 402:
                unexpected.append(response.text)
            return response.status_code

        def burst(n: int) -> list[int]:
            with ThreadPoolExecutor(n) as pool:
                return list(pool.map(one, range(n)))

        # Up: both processes see the key and the budget.
        statuses["before"] = burst(14).count(200)
        assert statuses["before"] == 14
        # Down: requests are still served (cached key, budget in Redis), records spooled.
        private_postgres.stop()
        during = burst(20)
        assert set(during) <= {200, 402}, unexpected
        statuses["during"] = during.count(200)
        assert statuses["during"] > 0
        spooled = _wait_for_spool(a, b)
        private_postgres.start()
        # Back: the budget is spent, the rest is refused.
        after = burst(16)
        assert set(after) <= {200, 402} and 402 in after, unexpected

        # Every served request has its record once the spools are replayed.
        deadline = time.monotonic() + 60
        while True:
            rows = asyncio.run(
                sql(
                    private_postgres.url,
                    "SELECT id, cost FROM generations WHERE key_hash = $1",
                    data["hash"],
                )
            )
            if len(rows) >= len(served) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert spooled, "no record was spooled while the database was down"
        assert sorted(r["id"] for r in rows) == sorted(served)
        spent_nano = sum(r["cost"] for r in rows)
        assert spent_nano <= limit * 1e9, "the key spent past its limit"
        # The budget was used up (reservations in flight may refuse a request or two early).
        assert len(served) >= int(limit // COST_PER_REQUEST) - 2
        for process in (a, b):
            assert key_info(process.base, key)["usage"] == pytest.approx(spent_nano / 1e9)
            assert generation(process.base, key, served[0])["total_cost"] > 0
        assert not _spool_files(a, b)
        assert "spooled" in a.log() + b.log()
    finally:
        for process in (a, b):
            process.stop()
