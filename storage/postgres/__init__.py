"""The PostgreSQL backend: several unionbot processes on one database (issue 12).

`store.py` holds the pool, transactions, migrations and the core tables; each feature's
tables live in their own module, composed into `PostgresStore` as in storage/sqlite/.
"""

from storage.postgres.broadcasts import PostgresBroadcastMixin
from storage.postgres.care import PostgresCareMixin
from storage.postgres.console import PostgresConsoleMixin
from storage.postgres.inbound import PostgresInboundMixin
from storage.postgres.listening import PostgresListeningMixin
from storage.postgres.questions import PostgresQuestionMixin
from storage.postgres.signups import PostgresSignupMixin
from storage.postgres.store import PostgresCore, load_migrations, safe_url
from storage.postgres.zalo_tokens import PostgresZaloTokenMixin


class PostgresStore(
    PostgresQuestionMixin,
    PostgresSignupMixin,
    PostgresBroadcastMixin,
    PostgresZaloTokenMixin,
    PostgresInboundMixin,
    PostgresListeningMixin,
    PostgresCareMixin,
    PostgresConsoleMixin,
    PostgresCore,
):
    """Every feature's tables on one PostgreSQL database."""


__all__ = ["PostgresStore", "load_migrations", "safe_url"]
