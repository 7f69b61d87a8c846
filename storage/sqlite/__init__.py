"""The SQLite backend: one file, WAL mode, versioned migrations (the default).

`store.py` holds the connection, transactions and the core tables; each feature's
tables live in their own module, composed into `SQLiteStore`.
"""

from storage.sqlite.store import (
    PROCESSED_UPDATES_TTL,
    PURGE_BATCH,
    GuardedConnection,
    SQLiteStore,
    load_migrations,
    now_utc,
)

__all__ = ["PROCESSED_UPDATES_TTL", "PURGE_BATCH", "GuardedConnection", "SQLiteStore", "load_migrations", "now_utc"]
