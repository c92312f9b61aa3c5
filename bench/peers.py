"""Opt-in `peers` scenario: the same wrk load through modelyard and through LiteLLM's proxy.

Absolute numbers depend on the machine; ratios taken in one run on the same cores do not
as much. Both gateways stay up on the gateway core for the whole scenario and each load
level is measured on one right after the other, so a noisy minute lands on both.
LiteLLM lives in its own throwaway venv (installed once, pinned) so the project never
depends on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.load import wrk
from bench.procs import (
    BENCH_KEY,
    BENCH_MODEL,
    Proc,
    free_port,
    pinned,
    start_gateway,
    start_mock,
    wait_http,
)
from bench.scenarios import GATEWAY_CORE, LOAD_CORE, _ms

# The newest release whose [proxy] extra resolves from the registry: later ones pin
# `litellm-proxy`, `litellm-proxy-extras` or `litellm-enterprise` releases it lacks.
LITELLM_VERSION = "1.108.7"
# A venv per pin: bumping the version builds a new one instead of upgrading in place.
VENV = Path(__file__).resolve().parent / ".peers" / f"litellm-{LITELLM_VERSION}"
STAMP = VENV / ".installed"
INSTALL_TIMEOUT_S = 900

# Nothing may reach out: no telemetry, only the bundled copies of what it would otherwise
# download at start, no database, no .env loading; errors only in the log.
LITELLM_ENV = {
    "LITELLM_TELEMETRY_DISABLED": "True",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_MODE": "PRODUCTION",
    "LITELLM_LOG": "ERROR",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
}


def ensure_litellm() -> Path | None:
    """The proxy's executable, installing it on first use; None when that is impossible."""
    exe = VENV / "bin" / "litellm"
    if STAMP.exists():
        return exe
    spec = f"litellm[proxy]=={LITELLM_VERSION}"
    print(f"peers: installing {spec} into {VENV.relative_to(VENV.parents[2])}", file=sys.stderr)
    shutil.rmtree(VENV, ignore_errors=True)  # a half-built venv from an interrupted run
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "--quiet", spec],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
        errors = [x for x in pip.stderr.splitlines() if x.startswith("ERROR")]
        failure = "" if pip.returncode == 0 else (errors or [f"pip exit {pip.returncode}"])[-1]
    except (subprocess.SubprocessError, OSError) as exc:
        failure = str(exc)
    if failure:
        shutil.rmtree(VENV, ignore_errors=True)
        print(f"peers: skipped, could not install {spec}: {failure}", file=sys.stderr)
        return None
    STAMP.write_text(spec + "\n")
    return exe


def litellm_config(mock_url: str) -> str:
    return f"""
model_list:
  - model_name: "{BENCH_MODEL}"
    litellm_params:
      model: openai/bench
      api_base: "{mock_url}"
      api_key: sk-upstream
litellm_settings:
  set_verbose: false
general_settings:
  master_key: "{BENCH_KEY}"
"""


def start_litellm(exe: Path, mock_url: str, cores: str | None) -> tuple[Proc, str]:
    workdir = Path(tempfile.mkdtemp(prefix="modelyard-peers-"))
    config = workdir / "litellm.yaml"
    config.write_text(litellm_config(mock_url))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | LITELLM_ENV
    port = free_port()
    cmd = [
        str(exe),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    proc = Proc(pinned(cmd, cores), env)
    try:
        wait_http(f"http://127.0.0.1:{port}/health/liveliness", timeout=180)
    except RuntimeError:
        proc.stop()
        raise RuntimeError(f"litellm did not come up:\n{proc.output()[-2000:]}") from None
    return proc, f"http://127.0.0.1:{port}/v1"


def _row(gateway: str, c: int, r: dict, direct: dict | None) -> dict:
    return {
        "scenario": "peers",
        "gateway": gateway,
        "in_flight": c,
        "rps": round(r["rps"]),
        "p50_ms": _ms(r["p50_us"]),
        "p99_ms": _ms(r["p99_us"]),
        "added_p50_ms": _ms(r["p50_us"] - direct["p50_us"]) if direct else "",
        "added_p99_ms": _ms(r["p99_us"] - direct["p99_us"]) if direct else "",
        "errors": r["errors"],
        "ratio": "",
    }


def peers(seconds: float, concurrency: tuple[int, ...] = (8, 32)) -> list[dict]:
    """Added latency at 1 in flight and req/s at `concurrency`, modelyard vs LiteLLM;
    `ratio` on modelyard's rows is its req/s over LiteLLM's at the same level."""
    exe = ensure_litellm()
    if exe is None:
        return []
    peer = f"litellm {LITELLM_VERSION}"
    rows = []
    mock, mock_url = start_mock(LOAD_CORE)
    with mock:
        ours, ours_base = start_gateway(mock_url, GATEWAY_CORE)
        with ours:
            theirs, theirs_base = start_litellm(exe, mock_url, GATEWAY_CORE)
            with theirs:
                urls = {"modelyard": f"{ours_base}/chat/completions"}
                urls[peer] = f"{theirs_base}/chat/completions"
                for url in urls.values():  # warm: imports, pools, caches
                    wrk(url, connections=8, seconds=2, cores=LOAD_CORE)
                direct = wrk(
                    f"{mock_url}/chat/completions",
                    connections=1,
                    seconds=seconds,
                    cores=LOAD_CORE,
                )
                for c in (1, *concurrency):
                    level = {
                        name: wrk(url, connections=c, seconds=seconds, cores=LOAD_CORE)
                        for name, url in urls.items()
                    }
                    pair = [_row(n, c, r, direct if c == 1 else None) for n, r in level.items()]
                    if c > 1:
                        pair[0]["ratio"] = round(pair[0]["rps"] / max(1, pair[1]["rps"]), 2)
                    rows += pair
    return rows
