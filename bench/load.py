"""Load with wrk (Debian's package, installed on first use): bounded in time, loopback only."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.procs import BENCH_KEY, BENCH_MODEL, pinned

LUA = """
wrk.method = "POST"
wrk.body = '{"model":"%(model)s","messages":[{"role":"user","content":"Hi"}]%(extra)s}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "errors": %%d, "p50_us": %%d, '
    .. '"p90_us": %%d, "p99_us": %%d, "mean_us": %%f}\\n',
    summary.requests, summary.duration, errors, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


def ensure_tool(executable: str, package: str) -> str:
    """The path of a tool from Debian's packages, installing the package on first use."""
    path = shutil.which(executable)
    if path:
        return path
    install = ["apt-get", "install", "-y", "-qq", package]
    subprocess.run(install, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = shutil.which(executable)
    if path is None:
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(install, check=True)
        path = shutil.which(executable)
    if path is None:
        raise RuntimeError(f"{executable} is not installed and could not be installed")
    return path


def wrk(
    url: str, *, connections: int, seconds: float, cores: str | None, stream: bool = False
) -> dict:
    """Run wrk against a chat completions URL; latency percentiles in microseconds."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    extra = ',"stream":true' if stream else ""
    script.write_text(LUA % {"model": BENCH_MODEL, "extra": extra, "key": BENCH_KEY})
    threads = max(1, min(connections, 2))
    cmd = pinned(
        [
            ensure_tool("wrk", "wrk"),
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        cores,
    )
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    script.unlink()
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    result = json.loads(line[8:])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result
