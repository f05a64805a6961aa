"""The Geocode.Farm v4 response envelope: LEGAL, STATUS and USER sections, errors, value formats.

Geocode.Farm's JSON is inconsistent about value types (numbers in the batch reply, strings in the
single forward/reverse replies, a number beside a string in one USER object). Clients written
against the real service may depend on either, so every quirk is reproduced on purpose and
chosen by :class:`FarmEndpoint`; see docs/geocode-farm.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from geobatch.errors import InputError

JsonObject = dict[str, Any]

# The constant LEGAL section, verbatim from the spec's examples (the ``policies/`` variant).
LEGAL_NOTICE = (
    "This system is the property of Geocode.Farm and any information contained herein is "
    "Copyright (c) Geocode.Farm. Usage is subject to the Terms of Service."
)
LEGAL_TERMS = "https://geocode.farm/policies/terms-of-service/"
LEGAL_PRIVACY = "https://geocode.farm/policies/privacy-policy/"

UNLIMITED = "UNLIMITED"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


class FarmEndpoint(StrEnum):
    """Which call a body answers; it decides number styles, key order and the result path."""

    BATCH_FORWARD = "batch-forward"
    BATCH_REVERSE = "batch-reverse"  # our extension: no such endpoint at Geocode.Farm
    FORWARD = "forward"
    REVERSE = "reverse"

    @property
    def is_batch(self) -> bool:
        return self in (FarmEndpoint.BATCH_FORWARD, FarmEndpoint.BATCH_REVERSE)


@dataclass(frozen=True, slots=True)
class FarmUser:
    """The USER section's facts, as the key store knows them after charging this request.

    ``usage_limit`` None means unlimited. ``used_today`` already includes this request's credits
    (the spec's batch example shows ``credit_used: 2`` with ``used_today: 2``).
    """

    key: str
    name: str
    email: str | None  # sent as "" when the key has none
    usage_limit: int | None
    used_today: int

    @property
    def remaining(self) -> int | None:
        if self.usage_limit is None:
            return None
        return max(self.usage_limit - self.used_today, 0)


# HTTP status -> (STATUS.key, STATUS.request, spec's meaning). The batch bodies are undocumented;
# these follow the spec's recommendation: key INVALID only on 401, request INVALID on 400/404.
_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("VALID", "INVALID", "Problem With jSON Input. (too many addresses or bad format)"),
    401: ("INVALID", "VALID", "API key is invalid or missing."),
    402: ("VALID", "VALID", "No credit available or expired account"),
    404: ("VALID", "INVALID", "No such batch, or it is not yours."),
    429: ("VALID", "VALID", "Rate limit exceeded."),
    500: ("VALID", "VALID", "An unexpected error occurred. Contact support if issue persists."),
    503: ("VALID", "VALID", "The service is unavailable right now; try again later."),
}
ERROR_STATUS_CODES = frozenset(_ERRORS)


class FarmError(InputError):
    """A request the Geocode.Farm API refuses, with the HTTP status and STATUS fields to send.

    ``key`` is the API key the body carried, when one could be read: the route looks its owner up
    so the error body can include the USER section (sent only when the key is valid).
    """

    def __init__(self, status_code: int, message: str, *, key: str | None = None) -> None:
        if status_code not in _ERRORS:
            raise ValueError(f"no Geocode.Farm error body for HTTP {status_code}")
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.key = key
        self.key_status, self.request_status, _ = _ERRORS[status_code]
        self.status = "FAILED"


def legal_section() -> JsonObject:
    return {"notice": LEGAL_NOTICE, "terms": LEGAL_TERMS, "privacy": LEGAL_PRIVACY}


def _count(value: int, endpoint: FarmEndpoint) -> int | str:
    """Counters are JSON numbers in batch replies and strings in single replies."""
    return value if endpoint.is_batch else str(value)


def status_section(
    endpoint: FarmEndpoint,
    *,
    status: str = "SUCCESS",
    key_status: str = "VALID",
    request_status: str = "VALID",
    credit_used: int | None = None,
) -> JsonObject:
    """STATUS in the key order of the endpoint's sample (forward puts ``status`` second)."""
    if endpoint is FarmEndpoint.FORWARD:
        section: JsonObject = {"key": key_status, "status": status, "request": request_status}
    else:
        section = {"key": key_status, "request": request_status, "status": status}
    if credit_used is not None:
        section["credit_used"] = _count(credit_used, endpoint)
    return section


def user_section(user: FarmUser, endpoint: FarmEndpoint) -> JsonObject:
    """USER. ``usage_limit`` is always a string (``"UNLIMITED"`` or ``"250"``) and
    ``remaining_limit`` a number or ``"UNLIMITED"``, as in every sample; ``used_today`` follows
    the endpoint's counter style."""
    remaining = user.remaining
    return {
        "key": user.key,
        "name": user.name,
        "email": user.email or "",
        "usage_limit": UNLIMITED if user.usage_limit is None else str(user.usage_limit),
        "used_today": _count(user.used_today, endpoint),
        "remaining_limit": UNLIMITED if remaining is None else remaining,
    }


def render_error(
    status_code: int,
    message: str | None = None,
    *,
    endpoint: FarmEndpoint = FarmEndpoint.BATCH_FORWARD,
    user: FarmUser | None = None,
) -> JsonObject:
    """The body of a 400/401/402/404/429/500/503 reply: LEGAL, STATUS (``FAILED``, no credit used),
    USER when ``user`` is given and the status is not 401, and our one addition,
    ``STATUS.error``: what went wrong in words (the spec's own meaning when ``message`` is None).

    The single endpoints' "no match" 404 is not an error body: see ``render_single_no_results``.
    """
    if status_code not in _ERRORS:
        raise ValueError(f"no Geocode.Farm error body for HTTP {status_code}")
    key_status, request_status, meaning = _ERRORS[status_code]
    status = status_section(
        endpoint,
        status="FAILED",
        key_status=key_status,
        request_status=request_status,
        credit_used=0,
    )
    status["error"] = message or meaning
    body: JsonObject = {"LEGAL": legal_section(), "STATUS": status}
    if user is not None and key_status == "VALID":
        body["USER"] = user_section(user, endpoint)
    return body


def render_farm_error(
    error: FarmError,
    *,
    endpoint: FarmEndpoint = FarmEndpoint.BATCH_FORWARD,
    user: FarmUser | None = None,
) -> JsonObject:
    """:func:`render_error` for a raised :class:`FarmError`."""
    return render_error(error.status_code, error.message, endpoint=endpoint, user=user)


def format_timestamp(moment: datetime | float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC (the spec gives no zone). A float is Unix seconds, as the
    job store keeps them; a naive datetime is taken as UTC already."""
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(TIMESTAMP_FORMAT)


def format_coordinate(value: float) -> str:
    """A coordinate as the shortest decimal string that reads back as the same float.

    Never in exponent form (``repr(0.00001)`` is ``1e-05``, which some clients would not parse as
    a coordinate), and never ``-0``.
    """
    if value == 0:
        return "0.0"
    return format(Decimal(repr(float(value))), "f")


def encode_json(body: JsonObject, *, escape_slashes: bool = False) -> bytes:
    """UTF-8 JSON bytes of a body. ``escape_slashes`` writes ``\\/`` as PHP's ``json_encode``
    does in some of Geocode.Farm's replies; both spellings decode to the same text."""
    text = json.dumps(body, ensure_ascii=False)
    if escape_slashes:
        # "/" can only occur inside JSON strings, so this never touches the structure.
        text = text.replace("/", "\\/")
    return text.encode("utf-8")
