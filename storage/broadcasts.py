"""Topic subscriptions, scheduled broadcasts and per-recipient delivery rows."""

from __future__ import annotations

import abc


class BroadcastStore(abc.ABC):
    """Abstract part of the store for this feature; implemented in `storage/sqlite_broadcasts.py`."""
