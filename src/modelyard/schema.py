"""The whole schema: every room's migrations, in the one order they are applied.

Each room that owns tables lists its migrations as data (`MIGRATIONS` beside its tables);
this module joins them. The order is written here, not made by imports: the accounts
tables first (the stats rollups index the records table), then responses, stats and the
web pages' sessions; a new room's list goes at the end. Everything that opens the
database passes this list, the app at start and the CLI, bench and tests alike, so the
schema is the same everywhere::

    db = await Database(url).connect(migrations=MIGRATIONS)

A migration keeps its (component, version) forever: that is how `schema_migrations`
knows it was applied, whichever list it came in.
"""

from __future__ import annotations

from modelyard.accounts.schema import MIGRATIONS as ACCOUNTS
from modelyard.responses.store import MIGRATIONS as RESPONSES
from modelyard.stats.rollup import MIGRATIONS as STATS
from modelyard.store.migrations import Migration
from modelyard.web.session import MIGRATIONS as WEB

MIGRATIONS: list[Migration] = [*ACCOUNTS, *RESPONSES, *STATS, *WEB]
