"""Processes a benchmark needs: the mock upstream and the gateway, pinned to cores."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BENCH_KEY = "sk-bench-key"
BENCH_MODEL = "bench/mock"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pinned(cmd: list[str], cores: str | None) -> list[str]:
    """Prefix `taskset` when there is one and cores were asked for."""
    if cores and shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", cores, *cmd]
    return cmd


def realtime() -> tuple[str, ...]:
    """`chrt -f 1` where this process may give a child a real-time priority (root, or
    CAP_SYS_NICE), else nothing.

    A relay that waits for its core while another task holds it shows up as a late chunk,
    and so does a mock held off its core between stamping a chunk and sending it. On the
    VMs this was measured on, the kernel's DAMON thread (kdamond) and the VM's own agent
    hold a core for 1-8 ms every half second: at this priority the relays and the mock
    preempt them, which isolates what the relays themselves do, as pinning them to their
    own core isolates them from the load (cyclictest measures at this priority for the
    same reason)."""
    chrt = shutil.which("chrt")
    if chrt is None:
        return ()
    probe = subprocess.run([chrt, "-f", "1", "true"], capture_output=True, check=False)
    return (chrt, "-f", "1") if probe.returncode == 0 else ()


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


class Proc:
    def __init__(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_mb(self) -> float:
        """Resident memory of the process and its children, in MB."""
        pids = [self.pid]
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        total = 0
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total / 1024

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_mock(
    cores: str | None, *, chunks: int = 20, gap_ms: float = 0.0, under: tuple[str, ...] = ()
) -> tuple[Proc, str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "bench.mock_upstream",
        "--port",
        str(port),
        "--chunks",
        str(chunks),
        "--gap-ms",
        str(gap_ms),
    ]
    proc = Proc(pinned([*under, *cmd], cores))
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, base
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mock upstream did not start")


def gateway_config(mock_url: str) -> str:
    return f"""
[providers.mock]
name = "Mock"
base_url = "{mock_url}"
api_key = "sk-upstream"

[[models]]
id = "{BENCH_MODEL}"
context_length = 8192
[models.pricing]
prompt = 1.0
completion = 2.0
[[models.endpoints]]
provider = "mock"
model = "bench"
"""


def start_gateway(
    mock_url: str,
    cores: str | None,
    *,
    workers: int = 1,
    engine: bool = False,
    under: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
    start_timeout: float = 60,
) -> tuple[Proc, str]:
    """The gateway on the bench config; `under` is a command it runs under (a profiler)."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="modelyard-bench-"))
    config = workdir / "bench.toml"
    config.write_text(gateway_config(mock_url))
    env = {
        **os.environ,
        "MODELYARD_API_KEYS": BENCH_KEY,
        "MODELYARD_ENGINE": "1" if engine else "0",
        "MODELYARD_LOG_LEVEL": "warning",
        "MODELYARD_DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite'}",
        **(extra_env or {}),
    }
    cmd = [
        sys.executable,
        "-m",
        "modelyard",
        "serve",
        "--port",
        str(port),
        "--config",
        str(config),
        "--workers",
        str(workers),
    ]
    proc = Proc(pinned([*under, *cmd], cores), env)
    wait_http(f"http://127.0.0.1:{port}/health", start_timeout)
    return proc, f"http://127.0.0.1:{port}/api/v1"


def start_passthrough(
    mock_url: str,
    cores: str | None,
    *,
    under: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
    start_timeout: float = 60,
) -> tuple[Proc, str]:
    """The bare Starlette + uvicorn + aiohttp reference (bench/passthrough.py)."""
    port = free_port()
    cmd = [sys.executable, "-m", "bench.passthrough", "--port", str(port), "--upstream", mock_url]
    env = {**os.environ, **(extra_env or {})}
    proc = Proc(pinned([*under, *cmd], cores), env)
    wait_http(f"http://127.0.0.1:{port}/", start_timeout)
    return proc, f"http://127.0.0.1:{port}/api/v1"
