"""Persistence: the store interface, its SQLite implementation, record types."""

from storage.interface import Store, StoreError, StoreOpenError
from storage.records import AuditEntry, Channel, ConversationState, Role, User

__all__ = [
    "AuditEntry",
    "Channel",
    "ConversationState",
    "Role",
    "Store",
    "StoreError",
    "StoreOpenError",
    "User",
    "open_store",
    "safe_location",
]


def safe_location(url: str) -> str:
    """A database path or URL as it may be printed or logged: any password masked."""
    import re

    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def open_store(url: str, *, pool_size: int = 10) -> Store:
    """Build the store for a URL: a plain path or `sqlite:///path` for SQLite,
    `postgresql://user@host:port/db` (or `postgres://`) for PostgreSQL."""
    if url.startswith(("postgresql://", "postgres://")):
        from storage.postgres import PostgresStore

        return PostgresStore(url, max_size=pool_size)
    from storage.sqlite import SQLiteStore

    if url.startswith("sqlite:///"):
        url = url.removeprefix("sqlite:///")
    if "://" in url:
        raise StoreError(f"unsupported database URL scheme: {url.split('://', 1)[0]}")
    return SQLiteStore(url)
