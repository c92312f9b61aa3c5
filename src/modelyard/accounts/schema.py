"""The accounts tables: keys, generation records, and a version bumped on every key change.

Money is stored as BIGINT nano-dollars (see money.py): exact sums on both dialects.
`MIGRATIONS` is applied as part of `modelyard.schema.MIGRATIONS` (first: other rooms read
these tables).
"""

from __future__ import annotations

from modelyard.store.migrations import Migration

MIGRATIONS: list[Migration] = [
    Migration(
        "accounts",
        1,
        """
    CREATE TABLE IF NOT EXISTS api_keys (
        hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        label TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        credit_limit BIGINT,
        limit_reset TEXT,
        allowed_models TEXT,
        rate_limit_requests INTEGER,
        rate_limit_interval DOUBLE PRECISION,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION
    );
    CREATE TABLE IF NOT EXISTS generations (
        id TEXT PRIMARY KEY,
        key_hash TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        model TEXT NOT NULL,
        provider_name TEXT,
        upstream_id TEXT,
        api_type TEXT NOT NULL,
        streamed INTEGER NOT NULL,
        cancelled INTEGER NOT NULL,
        finish_reason TEXT,
        native_finish_reason TEXT,
        error_status INTEGER,
        latency_ms DOUBLE PRECISION,
        generation_ms DOUBLE PRECISION,
        tokens_prompt BIGINT NOT NULL,
        tokens_completion BIGINT NOT NULL,
        tokens_cached BIGINT NOT NULL,
        tokens_cache_write BIGINT NOT NULL,
        tokens_reasoning BIGINT NOT NULL,
        cost BIGINT NOT NULL,
        http_referer TEXT,
        app_title TEXT,
        attempts TEXT
    );
    CREATE INDEX IF NOT EXISTS generations_key_created ON generations (key_hash, created_at);
    CREATE TABLE IF NOT EXISTS accounts_version (
        id INTEGER PRIMARY KEY,
        version BIGINT NOT NULL
    );
    INSERT INTO accounts_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING
    """,
    ),
]
