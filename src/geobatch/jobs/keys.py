"""API keys: create (the secret is shown once and only its SHA-256 is kept), check, revoke,
and count what a key used today."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from geobatch.jobs.errors import LimitExceeded, NotAuthenticated
from geobatch.jobs.store import ApiKey, JobStore, day_of

KEY_BYTES = 32  # 64 hex characters, the length of a Bing Maps key


@dataclass(frozen=True, slots=True)
class NewKey:
    key: ApiKey
    secret: str  # give this to the user now: it cannot be recovered later


def hash_secret(secret: str) -> str:
    # A plain hash is enough: keys are 256 random bits, so there is nothing to brute-force.
    # surrogatepass: a key that is no valid text (from a JSON "\ud800") is simply not found.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def usage_day(now: float) -> str:
    """The UTC day usage at ``now`` counts against (a job's: the day it was created)."""
    return day_of(now)


def create_key(
    store: JobStore,
    name: str,
    email: str | None = None,
    daily_limit: int | None = None,
    now: float | None = None,
) -> NewKey:
    if not name.strip():
        raise ValueError("a key needs a name")
    if daily_limit is not None and daily_limit < 0:
        raise ValueError(f"the daily limit must be 0 or more, not {daily_limit}")
    secret = secrets.token_hex(KEY_BYTES)
    key = store.add_key(
        name.strip(), email, hash_secret(secret), daily_limit, time.time() if now is None else now
    )
    return NewKey(key, secret)


def authenticate(store: JobStore, secret: str | None) -> ApiKey:
    """The key behind a secret, or :class:`NotAuthenticated` saying what is wrong."""
    if not secret:
        raise NotAuthenticated(
            "a key is required: add key=YOUR_KEY to the query string", "NoCredentials"
        )
    key = store.key_by_hash(hash_secret(secret))
    if key is None:
        raise NotAuthenticated("the key is not valid", "InvalidCredentials")
    if key.revoked is not None:
        raise NotAuthenticated("the key has been revoked", "CredentialsExpired")
    return key


def used_today(store: JobStore, key: ApiKey, now: float) -> int:
    return store.usage(key.id, usage_day(now))


def check_quota(store: JobStore, key: ApiKey, now: float) -> None:
    """Refuse new work once the key's daily quota (if it has one) is used up or set aside for
    its jobs in progress (a cheap check before an upload is received; the exact one is made
    when the job is inserted, with its entity count)."""
    if key.daily_limit is None:
        return
    day = usage_day(now)
    used = store.usage(key.id, day)
    held = store.held(key.id, day)
    if used + held >= key.daily_limit:
        aside = (
            f", {held:,} being set aside for its jobs in progress (what they do not use is given "
            "back when they end)"
            if held
            else ""
        )
        raise LimitExceeded(
            f"this key has used {used:,} of its {key.daily_limit:,} entities for today (UTC)"
            f"{aside}; try again tomorrow"
        )
