"""Union sign-ups, volunteers' referral codes, organizer scopes and targets."""

from __future__ import annotations

import abc


class SignupStore(abc.ABC):
    """Abstract part of the store for this feature; implemented in `storage/sqlite_signups.py`."""
