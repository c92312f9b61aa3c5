"""What upstreams return differently, normalized: reasoning and reasoning_details, image
output, native finish reasons, every usage shape, and cost from the endpoint's own prices.

The upstream is the scripted mock (tests/upstream_mock.py) speaking OpenRouter's and other
providers' shapes; the client is the official SDK with strict response validation.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.conftest import GatewayProcess
from tests.upstream_mock import (
    IMAGE,
    REASONING_DETAILS,
    REASONING_SUMMARY,
    MockUpstream,
    large_image_url,
)

HI = [{"role": "user", "content": "Hi"}]
PER = Decimal(1_000_000)
DETAILS = [*REASONING_DETAILS, REASONING_SUMMARY]


def usd(**tokens_at_price: tuple[int, str]) -> float:
    return float(sum(n * Decimal(p) / PER for n, p in tokens_at_price.values()))


# test/reasoning and test/priced: prompt $1, completion $2, cache read $0.1, cache write
# $1.25, reasoning $3 per 1M tokens. The mock's reasoning usage: 1000 prompt (200 cached),
# 500 completion of which 300 reasoning; it also reports a `cost` of 99 that must not win.
REASONING_COST = usd(fresh=(800, "1"), cached=(200, "0.1"), reasoning=(300, "3"), text=(200, "2"))


def _field(model: Any, name: str) -> Any:
    """A field the SDK may or may not declare (its strict models keep extras aside)."""
    if name in type(model).model_fields:
        return getattr(model, name)
    return (model.model_extra or {})[name]


def _stream(client: OpenAI, **kwargs: Any) -> list[Any]:
    return list(client.chat.completions.create(stream=True, **kwargs))


def _streamed_images(chunks: list[Any]) -> list[Any]:
    return [
        image
        for c in chunks
        if c.choices
        for image in (c.choices[0].delta.model_extra or {}).get("images") or ()
    ]


# --- reasoning ---------------------------------------------------------------------------


def test_reasoning_and_details_pass_through_unchanged(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model="test/reasoning", messages=HI, extra_body={"reasoning": {"effort": "low"}}
    )
    message = completion.choices[0].message
    extra = message.model_extra or {}
    assert message.content == "Hello from the mock."
    assert extra["reasoning"] == "Let me think."
    assert extra["reasoning_details"] == DETAILS
    usage = completion.usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 300
    assert (usage.model_extra or {})["cost"] == pytest.approx(REASONING_COST)


def test_streamed_reasoning_details_arrive_in_order(client: OpenAI) -> None:
    chunks = _stream(client, model="test/reasoning", messages=HI)
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join((d.model_extra or {}).get("reasoning") or "" for d in deltas)
    details = [x for d in deltas for x in (d.model_extra or {}).get("reasoning_details") or ()]
    assert reasoning == "Let me think."
    assert details == DETAILS
    assert "".join(d.content or "" for d in deltas) == "Hello from the mock."
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.model_extra or {})["cost"] == pytest.approx(REASONING_COST)


def test_reasoning_details_go_back_to_the_upstream_as_they_came(
    client: OpenAI, upstream: MockUpstream
) -> None:
    first = client.chat.completions.create(model="test/reasoning", messages=HI)
    details = (first.choices[0].message.model_extra or {})["reasoning_details"]
    messages = [
        *HI,
        {"role": "assistant", "content": "Hello", "reasoning_details": details},
        {"role": "user", "content": "Go on"},
    ]
    client.chat.completions.create(model="test/reasoning", messages=messages)  # type: ignore[arg-type]
    sent = upstream.received("reasoning")[-1]["messages"][1]
    assert sent["reasoning_details"] == DETAILS


# --- image output --------------------------------------------------------------------------

# openai/gpt-5-image-mini (catalog): prompt $2.5, completion $2, image output $8 per 1M.
# The mock's image usage: 100 prompt, 1300 completion of which 1200 image tokens.
IMAGE_COST = usd(prompt=(100, "2.5"), text=(100, "2"), image=(1200, "8"))
IMAGE_REQUEST = {"modalities": ["image", "text"], "image_config": {"aspect_ratio": "16:9"}}


def test_image_output_non_streamed(client: OpenAI, upstream: MockUpstream) -> None:
    completion = client.chat.completions.create(
        model="openai/gpt-5-image-mini", messages=HI, extra_body=IMAGE_REQUEST
    )
    message = completion.choices[0].message
    assert message.content == "Here it is."
    assert (message.model_extra or {})["images"] == [IMAGE]
    sent = upstream.received("gpt-5-image-mini")[-1]
    assert sent["modalities"] == ["image", "text"]
    assert sent["image_config"] == {"aspect_ratio": "16:9"}
    usage = completion.usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert _field(usage.completion_tokens_details, "image_tokens") == 1200
    assert (usage.model_extra or {})["cost"] == pytest.approx(IMAGE_COST)


def test_image_output_streamed(client: OpenAI) -> None:
    chunks = _stream(client, model="openai/gpt-5-image-mini", messages=HI, extra_body=IMAGE_REQUEST)
    assert _streamed_images(chunks) == [IMAGE]
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert _field(usage.completion_tokens_details, "image_tokens") == 1200
    assert (usage.model_extra or {})["cost"] == pytest.approx(IMAGE_COST)


def test_a_streamed_image_larger_than_a_read_arrives_whole(client: OpenAI) -> None:
    # One SSE line of ~600 KB: larger than the upstream client's line buffer (128 KiB).
    body = {**IMAGE_REQUEST, "mock_image_size": 600_000}
    chunks = _stream(client, model="openai/gpt-5-image-mini", messages=HI, extra_body=body)
    urls = [image["image_url"]["url"] for image in _streamed_images(chunks)]
    assert urls == [large_image_url(600_000)]
    assert chunks[-1].usage is not None


def test_image_output_from_a_text_model_is_a_404_naming_modalities(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(
            model="openai/gpt-5-mini", messages=HI, extra_body=IMAGE_REQUEST
        )
    assert "does not output image (modalities)" in caught.value.message


def test_image_config_is_not_sent_to_a_text_model(client: OpenAI, upstream: MockUpstream) -> None:
    client.chat.completions.create(
        model="test/normal", messages=HI, extra_body={"image_config": {"aspect_ratio": "1:1"}}
    )
    assert "image_config" not in upstream.received("normal")[-1]


# --- finish reasons ------------------------------------------------------------------------

NATIVE_FINISH = [
    ("end_turn", "stop"),
    ("stop_sequence", "stop"),
    ("STOP", "stop"),
    ("MAX_TOKENS", "length"),
    ("max_tokens", "length"),
    ("tool_use", "tool_calls"),
    ("SAFETY", "content_filter"),
    ("RECITATION", "content_filter"),
]


@pytest.mark.parametrize(("native", "normalized"), NATIVE_FINISH)
def test_native_finish_reasons_are_normalized_and_kept(
    client: OpenAI, native: str, normalized: str
) -> None:
    body = {"mock_finish": native}
    choice = client.chat.completions.create(
        model="test/normal", messages=HI, extra_body=body
    ).choices[0]
    assert choice.finish_reason == normalized
    assert (choice.model_extra or {})["native_finish_reason"] == native
    chunks = _stream(client, model="test/normal", messages=HI, extra_body=body)
    last = [c.choices[0] for c in chunks if c.choices and c.choices[0].finish_reason][-1]
    assert last.finish_reason == normalized
    assert (last.model_extra or {})["native_finish_reason"] == native


# --- usage shapes --------------------------------------------------------------------------

USAGE_CASES = {
    # OpenAI Responses: input_tokens include the cached ones.
    "responses": {
        "prompt": 1000,
        "completion": 500,
        "cached": 200,
        "written": 0,
        "reasoning": 100,
        "cost": usd(fresh=(800, "1"), cached=(200, "0.1"), r=(100, "3"), text=(400, "2")),
    },
    # Anthropic: input_tokens exclude cache reads and writes.
    "anthropic": {
        "prompt": 1000,
        "completion": 500,
        "cached": 300,
        "written": 100,
        "reasoning": 0,
        "cost": usd(fresh=(600, "1"), cached=(300, "0.1"), w=(100, "1.25"), text=(500, "2")),
    },
    # OpenAI Chat Completions (the mock's default).
    "chat": {
        "prompt": 1000,
        "completion": 500,
        "cached": 200,
        "written": 0,
        "reasoning": 0,
        "cost": usd(fresh=(800, "1"), cached=(200, "0.1"), text=(500, "2")),
    },
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("shape", sorted(USAGE_CASES))
def test_usage_is_read_from_every_shape_and_priced_by_the_endpoint(
    client: OpenAI, shape: str, stream: bool
) -> None:
    body = {"mock_usage": shape}
    if stream:
        usage = _stream(client, model="test/priced", messages=HI, extra_body=body)[-1].usage
    else:
        usage = client.chat.completions.create(
            model="test/priced", messages=HI, extra_body=body
        ).usage
    want = USAGE_CASES[shape]
    assert usage is not None
    assert usage.prompt_tokens == want["prompt"]
    assert usage.completion_tokens == want["completion"]
    assert usage.total_tokens == want["prompt"] + want["completion"]
    assert usage.prompt_tokens_details is not None and usage.completion_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == want["cached"]
    assert _field(usage.prompt_tokens_details, "cache_write_tokens") == want["written"]
    assert usage.completion_tokens_details.reasoning_tokens == want["reasoning"]
    assert (usage.model_extra or {})["cost"] == pytest.approx(want["cost"])


def _record(gateway: GatewayProcess, generation_id: str) -> dict[str, Any]:
    """Records are written in batches off the request path: wait for this one to land."""
    for _ in range(200):
        response = httpx.get(
            f"{gateway.base}/api/v1/generation", params={"id": generation_id}, timeout=10
        )
        if response.status_code == 200:
            return response.json()["data"]  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"no record for {generation_id}")


def test_generation_record_has_the_endpoint_price_not_the_upstream_cost(
    client: OpenAI, gateway: GatewayProcess
) -> None:
    completion = client.chat.completions.create(
        model="test/reasoning", messages=HI, extra_body={"mock_finish": "end_turn"}
    )
    data = _record(gateway, completion.id)
    assert data["total_cost"] == pytest.approx(REASONING_COST)
    assert data["native_tokens_reasoning"] == 300
    assert data["finish_reason"] == "stop" and data["native_finish_reason"] == "end_turn"


# --- the Responses surface -----------------------------------------------------------------


def _reasoning_item(output: list[Any]) -> Any:
    items = [item for item in output if item.type == "reasoning"]
    assert len(items) == 1
    return items[0]


def test_responses_reasoning_item_carries_text_summary_and_encrypted_content(
    client: OpenAI,
) -> None:
    response = client.responses.create(model="test/reasoning", input="Hi")
    assert [item.type for item in response.output] == ["reasoning", "message"]
    item = _reasoning_item(response.output)
    assert [part.text for part in item.content or ()] == ["Let me think."]
    assert [part.text for part in item.summary] == ["Thought briefly."]
    assert item.encrypted_content == "opaque=="
    assert response.output_text == "Hello from the mock."
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 300


def test_responses_stream_reasoning_summary_events(client: OpenAI) -> None:
    events = list(client.responses.create(model="test/reasoning", input="Hi", stream=True))
    kinds = [event.type for event in events]
    for kind in (
        "response.reasoning_text.delta",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ):
        assert kind in kinds
    summary = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    assert summary == "Thought briefly."
    final = events[-1]
    assert final.type == "response.completed"
    item = _reasoning_item(final.response.output)
    assert [part.text for part in item.summary] == ["Thought briefly."]
    assert item.encrypted_content == "opaque=="


def test_responses_reasoning_items_go_back_as_reasoning_details(
    client: OpenAI, upstream: MockUpstream
) -> None:
    first = client.responses.create(model="test/reasoning", input="Hi")
    reasoning = _reasoning_item(first.output)
    client.responses.create(
        model="test/reasoning",
        input=[
            {"role": "user", "content": "Hi"},
            reasoning.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Go on"},
        ],
    )
    sent = upstream.received("reasoning")[-1]["messages"][1]
    assert sent["role"] == "assistant"
    assert [(d["type"], d["index"]) for d in sent["reasoning_details"]] == [
        ("reasoning.summary", 0),
        ("reasoning.text", 1),
        ("reasoning.encrypted", 2),
    ]
    assert sent["reasoning_details"][2]["data"] == "opaque=="
    assert sent["reasoning_details"][2]["id"] == reasoning.id


@pytest.mark.parametrize("stream", [False, True])
def test_responses_image_output_is_an_image_generation_call(
    client: OpenAI, upstream: MockUpstream, stream: bool
) -> None:
    kwargs: dict[str, Any] = {"model": "openai/gpt-5-image-mini", "input": "Draw a cat"}
    if stream:
        events = list(client.responses.create(stream=True, extra_body=IMAGE_REQUEST, **kwargs))
        assert "response.image_generation_call.completed" in [e.type for e in events]
        response = events[-1].response
    else:
        response = client.responses.create(extra_body=IMAGE_REQUEST, **kwargs)
    calls = [item for item in response.output if item.type == "image_generation_call"]
    assert [(c.status, c.result) for c in calls] == [("completed", "iVBORw0KGgo=")]
    assert upstream.received("gpt-5-image-mini")[-1]["modalities"] == ["image", "text"]
    assert response.usage is not None
    assert (response.usage.model_extra or {})["cost"] == pytest.approx(IMAGE_COST)
