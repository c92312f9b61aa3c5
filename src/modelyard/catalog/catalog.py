"""The model catalog: models, their endpoints at providers, and their prices.

The data lives in models.toml (prices in USD per 1M tokens, as humans write them) and in
the operator's config file; here it becomes typed objects with per-token prices, which is
what cost accounting and OpenRouter's `/models` schema both want.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any

import msgspec
from msgspec import Struct

PER_MILLION = Decimal(1_000_000)
# A price not set is zero: one instance, not a new Decimal per lookup on the request path.
_ZERO = Decimal(0)
# Prices given per token in OpenRouter's schema; the rest (request, image...) are per unit.
TOKEN_PRICES = {
    "prompt",
    "completion",
    "input_cache_read",
    "input_cache_write",
    "internal_reasoning",
    "image_token",
    "audio",
    "image_output",
}


@dataclass(slots=True)
class Pricing:
    """USD prices: per token for token dimensions, per unit for request/image/web_search."""

    values: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def from_table(cls, table: dict[str, float | int | str]) -> Pricing:
        values = {}
        for key, raw in table.items():
            amount = Decimal(str(raw))
            values[key] = amount / PER_MILLION if key in TOKEN_PRICES else amount
        return cls(values)

    def get(self, key: str) -> Decimal:
        return self.values.get(key, _ZERO)

    @property
    def is_free(self) -> bool:
        return all(v == 0 for v in self.values.values())

    def as_strings(self) -> dict[str, str]:
        """OpenRouter's shape: USD per token as decimal strings, always prompt and completion."""
        out = {"prompt": "0", "completion": "0"}
        for key, value in self.values.items():
            out[key] = _decimal_str(value)
        return out


def _decimal_str(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


@dataclass(slots=True)
class Endpoint:
    """One provider's offer of a model."""

    provider: str
    model: str  # the provider's own model id
    context_length: int
    max_completion_tokens: int | None
    pricing: Pricing
    quantization: str = "unknown"
    supported_parameters: list[str] = field(default_factory=list)
    data_policy: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Model:
    id: str
    name: str
    description: str
    created: int
    context_length: int
    max_completion_tokens: int | None
    input_modalities: list[str]
    output_modalities: list[str]
    tokenizer: str
    instruct_type: str | None
    pricing: Pricing
    supported_parameters: list[str]
    endpoints: list[Endpoint]
    canonical_slug: str = ""
    hugging_face_id: str = ""
    moderated: bool = False
    variant_of: str | None = None
    default_params: dict[str, Any] = field(default_factory=dict)

    @property
    def author(self) -> str:
        return self.id.split("/", 1)[0]


class _Table(Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class DataPolicy(_Table):
    training: bool | None = None
    retains_prompts: bool | None = None
    retention_days: int | None = None


Prices = dict[str, float | int | str]


class EndpointTable(_Table):
    """One `[[models.endpoints]]` table: absent values come from the model's."""

    provider: str
    model: str | None = None
    context_length: int | None = None
    max_completion_tokens: int | None = None
    pricing: Prices | None = None
    quantization: str = "unknown"
    supported_parameters: list[str] | None = None
    data_policy: DataPolicy | None = None


class ModelTable(_Table):
    """One `[[models]]` table, as models.toml and the config file write it."""

    id: str
    context_length: int
    name: str | None = None
    description: str = ""
    released: dt.date | int = 0
    max_completion_tokens: int | None = None
    input_modalities: list[str] = msgspec.field(default_factory=lambda: ["text"])
    output_modalities: list[str] = msgspec.field(default_factory=lambda: ["text"])
    tokenizer: str = "Other"
    instruct_type: str = ""
    pricing: Prices = {}
    supported_parameters: list[str] = []
    endpoints: list[EndpointTable] = []
    canonical_slug: str | None = None
    hugging_face_id: str = ""
    moderated: bool = False
    variant_of: str | None = None
    default_params: dict[str, Any] = {}


def _created(value: dt.date | int) -> int:
    if isinstance(value, dt.datetime):
        return int(value.replace(tzinfo=value.tzinfo or dt.UTC).timestamp())
    if isinstance(value, dt.date):
        return int(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp())
    return int(value)


def _policy(policy: DataPolicy | None) -> dict[str, Any]:
    if policy is None:
        return {}
    return {k: v for k, v in msgspec.structs.asdict(policy).items() if v is not None}


def model_from_table(table: ModelTable) -> Model:
    pricing = Pricing.from_table(table.pricing)
    params = list(table.supported_parameters)
    max_out = table.max_completion_tokens
    endpoints = [
        Endpoint(
            provider=e.provider,
            model=e.model or table.id,
            context_length=e.context_length or table.context_length,
            max_completion_tokens=e.max_completion_tokens or max_out,
            pricing=Pricing.from_table(e.pricing) if e.pricing is not None else pricing,
            quantization=e.quantization,
            supported_parameters=list(
                e.supported_parameters if e.supported_parameters is not None else params
            ),
            data_policy=_policy(e.data_policy),
        )
        for e in table.endpoints
    ]
    return Model(
        id=table.id,
        name=table.name or table.id,
        description=table.description.strip(),
        created=_created(table.released),
        context_length=table.context_length,
        max_completion_tokens=max_out,
        input_modalities=list(table.input_modalities),
        output_modalities=list(table.output_modalities),
        tokenizer=table.tokenizer,
        instruct_type=table.instruct_type or None,
        pricing=pricing,
        supported_parameters=params,
        endpoints=endpoints,
        canonical_slug=table.canonical_slug or table.id,
        hugging_face_id=table.hugging_face_id,
        moderated=table.moderated,
        variant_of=table.variant_of,
        default_params=dict(table.default_params),
    )


class Catalog:
    """Models by id, in catalog order."""

    def __init__(self, models: list[Model]) -> None:
        self.models: dict[str, Model] = {}
        for model in models:
            self.models[model.id] = model

    def get(self, model_id: str) -> Model | None:
        return self.models.get(model_id)

    def __iter__(self):
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)


def builtin_tables() -> list[ModelTable]:
    """models.toml, checked like the operator's tables (a wrong key fails the tests)."""
    text = resources.files("modelyard.catalog").joinpath("models.toml").read_text()
    return msgspec.convert(tomllib.loads(text)["models"], list[ModelTable])


def load_catalog(extra: list[ModelTable] | None = None) -> Catalog:
    """The built-in catalog plus operator entries; an operator entry replaces a built-in id."""
    tables = {t.id: t for t in builtin_tables()}
    for table in extra or []:
        tables[table.id] = table
    return Catalog([model_from_table(t) for t in tables.values()])
