"""Errors of the job service. Each says, for a person, what was wrong; the API maps the class to
an HTTP status at the edge (401, 404, 400, 503)."""

from __future__ import annotations

from typing import Literal

from geobatch.errors import GeobatchError, InputError

AuthFailure = Literal["NoCredentials", "InvalidCredentials", "CredentialsExpired"]


class NotAuthenticated(GeobatchError):
    """No key, an unknown key or a revoked key."""

    def __init__(self, message: str, reason: AuthFailure) -> None:
        super().__init__(message)
        self.reason: AuthFailure = reason


class JobNotFound(GeobatchError):
    """No such job for this key (another key's job is not found either), or no such result."""


class LimitExceeded(GeobatchError):
    """Too many pending jobs, too many jobs today, or the key's daily quota is used up."""


class BadJobRequest(InputError):
    """The request cannot be accepted as given: bad parameter, missing or oversize data."""


class OutOfCredits(LimitExceeded):
    """The key's daily credits cannot pay for this request (Geocode.Farm's 402)."""


class StoreUnavailable(GeobatchError):
    """The data directory cannot be used right now (read-only, immutable, full, gone): the
    request is refused with 503 and the reason; it works again once the disk does."""

    retry_after = 30  # seconds a client is told to wait (the Retry-After header)
