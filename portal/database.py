"""The database as the web tier meets it. SQLite lets one writer at a time: another waits up to
SQLITE_BUSY_TIMEOUT for the lock (settings.py), then fails with "database is locked". Such a
request is answered 503 with Retry-After (imaging.views.server_error), not a 500: nothing is
broken, the database is busy. /readyz asks whether a write would go through (`check_writable`).
"""

from __future__ import annotations

from django.db import OperationalError, connections

# How long a request that found the database locked is told to wait before trying again.
RETRY_AFTER_SECONDS = 5


class ReadOnly(Exception):
    pass


def is_locked(exc: BaseException | None) -> bool:
    """Whether `exc` is SQLite's "database is locked" (another connection held the write lock
    longer than the busy timeout)."""
    return isinstance(exc, OperationalError) and "locked" in str(exc)


def check_writable(wait_seconds: float) -> None:
    """Raises unless a write would go through within `wait_seconds`: on SQLite, take the write
    lock and give it back at once (nothing is written); on PostgreSQL, a read-only server (a
    standby, or a disk-full guard) fails."""
    connection = connections["default"]
    with connection.cursor() as cursor:
        if connection.vendor != "sqlite":
            cursor.execute("SHOW transaction_read_only")
            if cursor.fetchone()[0] == "on":
                raise ReadOnly("the database accepts no writes (transaction_read_only is on)")
            return
        if connection.in_atomic_block:
            return  # this connection's own transaction already holds the lock or will wait
        cursor.execute("PRAGMA busy_timeout")
        usual = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA busy_timeout = {max(1, int(wait_seconds * 1000))}")
        try:
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("ROLLBACK")
        finally:
            cursor.execute(f"PRAGMA busy_timeout = {usual}")
