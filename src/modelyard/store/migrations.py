"""Versioned schema migrations, registered by each module that owns tables, applied at start.

Each component (e.g. "accounts", "responses") numbers its own migrations 1, 2, 3...; an
applied migration is never edited, a change is a new version. How a module registers one,
at import time (top level of the module that owns the tables)::

    from modelyard.store.migrations import register

    register("responses", 1, '''
        CREATE TABLE IF NOT EXISTS responses (
            id TEXT PRIMARY KEY,
            body TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX IF NOT EXISTS responses_created ON responses (created)
    ''')
    # When the dialects must differ:
    register("responses", 2, sqlite="ALTER TABLE ...", postgresql="ALTER TABLE ...")

Statements are separated by `;` (so no `;` inside a statement). The app's `Database.connect()`
applies every registered migration that is not yet recorded in `schema_migrations`, in
version order per component and components in the order they first registered; so the
module must be imported before the app starts (import it from your API module, which
app.py imports). A migration registered later can be applied with `await db.migrate()`.
Concurrent starts are safe: PostgreSQL takes an advisory lock, SQLite a write lock.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelyard.store.database import Database, Dialect

# Any constant shared by every process; it only serializes concurrent migrators.
_ADVISORY_LOCK = 0x6D6F64656C

_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (component, version)
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    component: str
    version: int
    sql: str | Sequence[str] | None = None
    sqlite: str | Sequence[str] | None = None
    postgresql: str | Sequence[str] | None = None

    def statements(self, dialect: Dialect) -> list[str]:
        source = self.sqlite if dialect == "sqlite" else self.postgresql
        if source is None:
            source = self.sql
        if source is None:
            return []
        parts = source.split(";") if isinstance(source, str) else list(source)
        return [p.strip() for p in parts if p.strip()]


_registry: dict[str, dict[int, Migration]] = {}


def register(
    component: str,
    version: int,
    sql: str | Sequence[str] | None = None,
    *,
    sqlite: str | Sequence[str] | None = None,
    postgresql: str | Sequence[str] | None = None,
) -> None:
    """Register `component`'s migration number `version` (SQL for both dialects, or one per
    dialect; a dialect given neither gets nothing). Registering the same one twice (a module
    imported twice) is fine; a different one under the same number is an error."""
    if version < 1:
        raise ValueError("migration versions start at 1")
    if sql is None and sqlite is None and postgresql is None:
        raise ValueError("a migration needs sql, or sqlite and/or postgresql")
    migration = Migration(component, version, sql, sqlite, postgresql)
    versions = _registry.setdefault(component, {})
    existing = versions.get(version)
    if existing is not None and existing != migration:
        raise ValueError(f"migration {component} {version} is already registered differently")
    versions[version] = migration


def registered() -> list[Migration]:
    return [m for versions in _registry.values() for _, m in sorted(versions.items())]


async def apply(db: Database) -> list[tuple[str, int]]:
    """Apply the pending migrations in one transaction; returns (component, version) applied."""
    applied_now: list[tuple[str, int]] = []
    async with db.transaction() as tx:
        if db.dialect == "postgresql":
            await tx.execute("SELECT pg_advisory_xact_lock($1)", _ADVISORY_LOCK)
        await tx.execute(_TABLE)
        done = {
            (r["component"], r["version"])
            for r in await tx.fetch("SELECT component, version FROM schema_migrations")
        }
        for migration in registered():
            key = (migration.component, migration.version)
            if key in done:
                continue
            for statement in migration.statements(db.dialect):
                await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (component, version, applied_at) "
                "VALUES ($1, $2, $3)",
                migration.component,
                migration.version,
                time.time(),
            )
            applied_now.append(key)
    return applied_now
