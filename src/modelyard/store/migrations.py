"""Versioned schema migrations: data that each module owning tables exposes, applied in the
order of one explicit list.

Each component (e.g. "accounts", "responses") numbers its own migrations 1, 2, 3...; an
applied migration is never edited, a change is a new version. The module that owns the
tables lists them::

    from modelyard.store.migrations import Migration

    MIGRATIONS = [
        Migration("responses", 1, '''
            CREATE TABLE IF NOT EXISTS responses (
                id TEXT PRIMARY KEY,
                body TEXT NOT NULL,
                created DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX IF NOT EXISTS responses_created ON responses (created)
        '''),
        # When the dialects must differ:
        Migration("responses", 2, sqlite="ALTER TABLE ...", postgresql="ALTER TABLE ..."),
    ]

Statements are separated by `;` (so no `;` inside a statement). `modelyard.schema` joins
every owner's list into the one the app applies (`Database.connect(migrations=...)`), in
an order written down there, not one that imports happen to make: a migration that reads
another component's tables comes after them. Add a new owner's list there. `apply` runs
every migration of the list not yet recorded in `schema_migrations` (by component and
version), in list order, all in one transaction. Concurrent starts are safe: PostgreSQL
takes an advisory lock, SQLite a write lock.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

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
    """`component`'s migration number `version`: SQL for both dialects, or one per dialect
    (a dialect given neither gets nothing)."""

    component: str
    version: int
    sql: str | Sequence[str] | None = None
    sqlite: str | Sequence[str] | None = None
    postgresql: str | Sequence[str] | None = None

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ValueError("migration versions start at 1")
        if self.sql is None and self.sqlite is None and self.postgresql is None:
            raise ValueError("a migration needs sql, or sqlite and/or postgresql")

    def statements(self, dialect: str) -> list[str]:
        source = self.sqlite if dialect == "sqlite" else self.postgresql
        if source is None:
            source = self.sql
        if source is None:
            return []
        parts = source.split(";") if isinstance(source, str) else list(source)
        return [p.strip() for p in parts if p.strip()]


class _Statements(Protocol):
    async def execute(self, sql: str, *args: Any) -> int: ...
    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]: ...


class Migratable(Protocol):
    """What `apply` needs of a database (`modelyard.store.database.Database` is one)."""

    @property
    def dialect(self) -> str: ...

    def transaction(self) -> AbstractAsyncContextManager[_Statements]: ...


def check(migrations: Sequence[Migration]) -> None:
    """ValueError unless each (component, version) appears once and each component's
    versions rise along the list (list order is the order they are applied in)."""
    latest: dict[str, int] = {}
    for migration in migrations:
        before = latest.get(migration.component, 0)
        if migration.version == before:
            raise ValueError(f"migration {migration.component} {migration.version} is listed twice")
        if migration.version < before:
            raise ValueError(
                f"migration {migration.component} {migration.version} is listed after "
                f"version {before}"
            )
        latest[migration.component] = migration.version


async def apply(db: Migratable, migrations: Sequence[Migration]) -> list[tuple[str, int]]:
    """Apply the migrations of `migrations` not yet applied, in list order, in one
    transaction; returns the (component, version) applied now."""
    check(migrations)
    applied_now: list[tuple[str, int]] = []
    async with db.transaction() as tx:
        if db.dialect == "postgresql":
            await tx.execute("SELECT pg_advisory_xact_lock($1)", _ADVISORY_LOCK)
        await tx.execute(_TABLE)
        done = {
            (r["component"], r["version"])
            for r in await tx.fetch("SELECT component, version FROM schema_migrations")
        }
        for migration in migrations:
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
