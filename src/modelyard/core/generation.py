"""What a generation tells the surfaces that encode it: its identity, what it cost."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from modelyard.core.events import Usage


@dataclass(slots=True)
class Cost:
    prompt: Decimal
    completion: Decimal
    request: Decimal

    @property
    def total(self) -> Decimal:
        return self.prompt + self.completion + self.request


class GenerationInfo(Protocol):
    """The facts an encoder echoes (the gateway's Generation is one)."""

    id: str
    created: int
    provider_name: str
    usage: Usage | None
    cost: Cost | None

    @property
    def model_id(self) -> str:
        """The model that answered, or the one asked for while none has."""
        ...
