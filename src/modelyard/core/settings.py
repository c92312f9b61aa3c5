"""The settings the providers read, as the config file's own tables (`modelyard.config`
reads them): msgspec Structs that refuse unknown keys, so a typo is an error at start
rather than a setting that silently does nothing."""

from __future__ import annotations

from msgspec import Struct


class LocalModelConfig(Struct, forbid_unknown_fields=True, kw_only=True):
    """A GGUF file served by the embedded engine (`[[local_models]]`)."""

    id: str
    path: str
    name: str = ""
    context_length: int = 8192
    description: str = ""
    # The chat template has a thinking mode: `reasoning` is mapped onto it.
    reasoning: bool = False
    # What the model holds in memory, counted against the engine's budget (0: the file size).
    memory_mb: int = 0
    # A Jinja chat template used instead of the one in the GGUF file (empty: the file's).
    chat_template: str = ""


class EngineConfig(Struct, forbid_unknown_fields=True, kw_only=True):
    """Embedded llama.cpp engine settings (`[engine]`)."""

    enabled: bool = True
    slots: int = 4
    threads: int = 0  # 0: all cores
    preload: bool = True  # the default model loads at start; the others on first use
    # Loaded models are unloaded, least recently used first, to stay under this (0: no limit).
    memory_budget_mb: int = 0
    # A model other than the default is unloaded after this long unused (0: never).
    idle_unload_seconds: float = 0.0
