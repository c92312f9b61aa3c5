"""`make bench`: run the scenarios, print JSON lines and a Markdown table, keep a results file.

python -m bench                      # everything, full durations
python -m bench --quick              # short runs, for a smoke check
python -m bench overhead streaming   # chosen scenarios
python -m bench peers                # opt-in: modelyard vs LiteLLM's proxy (installs it once)
python -m bench instructions         # opt-in: instructions per request, gateway vs bare (valgrind)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from bench import scenarios
from bench.procs import realtime

RESULTS = Path(__file__).resolve().parent / "results"
ALL = ["overhead", "throughput", "streaming", "memory", "engine"]
# Opt-in: not in ALL, so a default run needs no peer gateway download and stays short.
OPT_IN = ["peers", "instructions"]


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}"


def table(rows: list[dict]) -> str:
    keys = [k for k in rows[0] if k != "scenario"]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("scenarios", nargs="*", help=f"any of {ALL + OPT_IN} (default: {ALL})")
    parser.add_argument("--quick", action="store_true", help="short runs (smoke check)")
    args = parser.parse_args()
    quick = args.quick
    seconds = 3 if quick else 10
    results: dict[str, list[dict]] = {}
    for name in args.scenarios or ALL:
        if name == "overhead":
            rows = [scenarios.overhead(seconds)]
        elif name == "throughput":
            rows = scenarios.throughput(seconds, [1, 8, 32, 64], workers=1, reference=32)
            rows += scenarios.throughput(seconds, [1, 8, 32, 64], workers=os.cpu_count() or 1)
        elif name == "streaming":
            samples = 20 if quick else 100
            rows = [scenarios.streaming(samples)]
            # Again with the mock and both relays at a real-time priority, where this user
            # may give one: what the relays do, without the time other tasks hold a core.
            if under := realtime():
                rows.append(scenarios.streaming(samples, under=under))
        elif name == "memory":
            rows = [scenarios.memory(10 if quick else 60, 5 if quick else 60)]
        elif name == "peers":
            from bench.peers import peers

            rows = peers(seconds)
        elif name == "instructions":
            from bench.instructions import instructions

            rows = instructions(100 if quick else 300)
        else:
            from bench.engine import engine_rows

            # A single stream's rounds are short (about 1.3 s) and move the most from one
            # to the next (a tenth either way on shared VMs): twice as many of them.
            # Multiples of six, so every order of the three arms comes up as often.
            cases = [(1, 4), (8, 2)] if quick else [(1, 12), (8, 6)]
            rows = engine_rows(64 if quick else 192, cases)
        for row in rows:
            print(json.dumps(row), flush=True)
        results[name] = rows
    print(f"\nmachine: {machine()}\n")
    for name, rows in results.items():
        if rows:
            print(f"### {name}\n\n{table(rows)}\n")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / time.strftime("bench-%Y%m%d-%H%M%S.json")
    out.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    print(f"results written to {out.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
