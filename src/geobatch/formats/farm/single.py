"""The single v4 calls' replies: ``GET /forward/`` and ``GET /reverse/``.

One call, one result (an object, not an array). No match is HTTP 404 with STATUS ``NO_RESULTS``,
no credit used, and no RESULTS — also when the geocoder could not look the request up at all
(text with no word it can read, such as ``中文`` today): the batch call answers ``NO_RESULTS`` for
the same text, and a single call answers as its batch does. Only an exception (a fault of ours)
is a 500.
"""

from __future__ import annotations

from geobatch.formats.farm.envelope import (
    FarmEndpoint,
    FarmUser,
    JsonObject,
    format_coordinate,
    legal_section,
    status_section,
    user_section,
)
from geobatch.formats.farm.results import forward_result, reverse_result
from geobatch.model import Answer

NO_MATCH_STATUS = "NO_RESULTS"


def single_http_status(answer: Answer) -> int:
    """200 with a result, else 404 (Geocode.Farm's "no match"), whatever the answer's status:
    a result row of the batch call is ``NO_RESULTS`` for every answer without a result."""
    return 200 if answer.best is not None else 404


def render_single_no_results(user: FarmUser, *, endpoint: FarmEndpoint) -> JsonObject:
    """The 404 body of a forward or reverse call that matched nothing: LEGAL, STATUS
    (``NO_RESULTS``, ``credit_used "0"``), USER."""
    return {
        "LEGAL": legal_section(),
        "STATUS": status_section(endpoint, status=NO_MATCH_STATUS, credit_used=0),
        "USER": user_section(user, endpoint),
    }


def _envelope(user: FarmUser, endpoint: FarmEndpoint, credit_used: int) -> JsonObject:
    return {
        "LEGAL": legal_section(),
        "STATUS": status_section(endpoint, credit_used=credit_used),
        "USER": user_section(user, endpoint),
    }


def render_single_forward(
    answer: Answer, *, addr: str, user: FarmUser, credit_used: int = 1
) -> JsonObject:
    """The body for ``GET /forward/?addr=…``; send it with :func:`single_http_status`.

    ``addr`` is echoed in ``RESULTS.request.addr`` exactly as received (after URL decoding).
    """
    best = answer.best
    if best is None:
        return render_single_no_results(user, endpoint=FarmEndpoint.FORWARD)
    body = _envelope(user, FarmEndpoint.FORWARD, credit_used)
    body["RESULTS"] = {"request": {"addr": addr}, "result": forward_result(best)}
    return body


def render_single_reverse(
    answer: Answer,
    *,
    lat: str | float,
    lon: str | float,
    user: FarmUser,
    credit_used: int = 1,
) -> JsonObject:
    """The body for ``GET /reverse/?lat=…&lon=…``; send it with :func:`single_http_status`.

    ``RESULTS.request`` echoes the coordinates as received (strings are kept verbatim) as
    ``point`` ("lon lat", a WKT-like order) plus ``latitude`` and ``longitude``.
    """
    best = answer.best
    if best is None:
        return render_single_no_results(user, endpoint=FarmEndpoint.REVERSE)
    lat_text = lat.strip() if isinstance(lat, str) else format_coordinate(lat)
    lon_text = lon.strip() if isinstance(lon, str) else format_coordinate(lon)
    body = _envelope(user, FarmEndpoint.REVERSE, credit_used)
    body["RESULTS"] = {
        "request": {"point": f"{lon_text} {lat_text}", "latitude": lat_text, "longitude": lon_text},
        "result": reverse_result(best),
    }
    return body
