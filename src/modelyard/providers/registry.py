"""The provider kinds this gateway can speak: ours, and third parties' through the
`modelyard.providers` entry-point group (each entry point names a `ProviderKind`).

Adding a provider is one module that defines its `ProviderKind`, plus one entry: in
`BUILTIN` below for ours, or in the plugin package's own metadata::

    [project.entry-points."modelyard.providers"]
    myvllm = "my_package.provider:KIND"
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points

from modelyard.core.provider import ProviderKind
from modelyard.providers import aimlapi, openai, openai_compat, openrouter

logger = logging.getLogger("modelyard.providers")

ENTRY_POINT_GROUP = "modelyard.providers"
# The kind a `[providers.<slug>]` table gets when it names none and its slug is no kind.
DEFAULT_KIND = openai_compat.KIND.slug
BUILTIN: tuple[ProviderKind, ...] = (openai.KIND, openrouter.KIND, aimlapi.KIND, openai_compat.KIND)


@cache
def kinds() -> dict[str, ProviderKind]:
    """Every registered kind by slug: the built-in ones, then the installed plugins' (a
    plugin may not replace a built-in kind; one that fails to load is logged and skipped)."""
    found = {kind.slug: kind for kind in BUILTIN}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            kind = entry.load()
        except Exception:
            logger.exception("provider plugin %s (%s) failed to load", entry.name, entry.value)
            continue
        if not isinstance(kind, ProviderKind):
            logger.error("provider plugin %s is not a ProviderKind: %r", entry.name, kind)
            continue
        if kind.slug in found:
            logger.error("provider plugin %s reuses the kind %r; skipped", entry.name, kind.slug)
            continue
        found[kind.slug] = kind
    return found


def kind(slug: str) -> ProviderKind | None:
    return kinds().get(slug)
