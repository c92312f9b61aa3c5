"""The storage errors every backend raises, without the driver's internals.

They live apart from the facade so that the backends (sqlite.py, postgres.py), which the
facade imports, can raise them without importing it back. Callers import them from
`modelyard.store.database`, which re-exports them.
"""

from __future__ import annotations


class DatabaseError(Exception):
    """A storage failure, without the driver's internals."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached right now (down, restarting, network)."""


class IntegrityError(DatabaseError):
    """A constraint was violated (unique key, foreign key, not null)."""
