"""PostgreSQL implementation of `storage.listening.ListeningStore` (a mixin of PostgresStore)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    import asyncpg


class PostgresListeningMixin:
    """Uses PostgresStore's `db` (joins an open transaction), `pool` and `transaction()` (storage/postgres/store.py)."""

    if TYPE_CHECKING:

        @property
        def pool(self) -> asyncpg.Pool: ...

        @property
        def db(self) -> asyncpg.Connection | asyncpg.Pool: ...

        def transaction(self) -> AbstractAsyncContextManager[asyncpg.Connection]: ...
