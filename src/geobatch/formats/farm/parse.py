"""Reading Geocode.Farm requests: the batch JSON bodies and the single calls' query parameters.

Validation follows the spec: a body that is not the documented shape is refused whole with a 400
(or 401 for the key), never half-accepted. The one exception is a blank address: it is a valid
string of at most 255 characters, so the batch is accepted and that row answers ``NO_RESULTS``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from geobatch.formats.batch import BatchHeader, BatchRow
from geobatch.formats.farm.envelope import FarmEndpoint, FarmError
from geobatch.model import GeocodeRequest, ReverseRequest

MAX_ADDRESSES = 1000
MAX_ADDRESS_LENGTH = 255
BLANK_ADDRESS_FAULT = "blank address: there is nothing to geocode"
# BatchRow.echo key holding the exact submitted text, which RESULTS[].request must repeat.
ECHO_REQUEST = "request"
ECHO_LAT = "lat"
ECHO_LON = "lon"


@dataclass(frozen=True, slots=True)
class FarmSubmission:
    """An accepted batch: the key it came with and one row per address (or coordinate pair).

    It satisfies :class:`geobatch.formats.batch.DecodedBatch`, so the job service can store it
    like any decoded batch file.
    """

    key: str
    endpoint: FarmEndpoint
    batch_rows: tuple[BatchRow, ...]

    @property
    def header(self) -> BatchHeader:
        return BatchHeader(format="json", version="4", details={"api": str(self.endpoint)})

    @property
    def entities(self) -> int:
        return len(self.batch_rows)

    def rows(self) -> Iterator[BatchRow]:
        return iter(self.batch_rows)


def _reject_constant(name: str) -> NoReturn:
    # Python's json accepts NaN and Infinity, which are not JSON and no coordinate.
    raise ValueError(f"{name} is not valid JSON")


def _load_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what is wrong with it."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FarmError(
            400, f"the request body is not UTF-8 text (bad byte at position {exc.start})"
        ) from None
    if not text.strip():
        raise FarmError(400, 'the request body is empty; send a JSON object {"key": …, …}')
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise FarmError(
            400,
            f"the request body is not valid JSON: {exc.msg} (line {exc.lineno}, "
            f"column {exc.colno})",
        ) from None
    except (ValueError, RecursionError) as exc:
        raise FarmError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise FarmError(400, f"the request body must be a JSON object, not {_json_type(value)}")
    try:
        # JSON may spell half of a UTF-16 pair ("\ud800"), which no text can hold.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise FarmError(
            400, "the request body holds an invalid \\u escape (a lone surrogate)"
        ) from None
    return value


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _key(document: Mapping[str, Any]) -> str:
    key = document.get("key")
    if key is None:
        raise FarmError(401, 'the API key is missing: put it in the JSON body as "key"')
    if not isinstance(key, str):
        raise FarmError(401, f'the API key "key" must be a string, not {_json_type(key)}')
    if not key.strip():
        raise FarmError(401, 'the API key "key" is empty')
    return key


def _items(
    document: Mapping[str, Any], field: str, what: str, key: str, max_items: int
) -> list[Any]:
    """The body's array ``field``, checked for presence, type, emptiness and size."""
    items = document.get(field)
    if items is None:
        raise FarmError(400, f'"{field}" is missing: send an array of {what}', key=key)
    if not isinstance(items, list):
        raise FarmError(
            400, f'"{field}" must be an array of {what}, not {_json_type(items)}', key=key
        )
    if not items:
        raise FarmError(400, f'"{field}" is empty: send at least one of the {what}', key=key)
    if len(items) > max_items:
        raise FarmError(
            400,
            f'"{field}" has {len(items)} entries; at most {max_items} are allowed per batch '
            f"(split the list into several batches)",
            key=key,
        )
    return items


def parse_batch_forward(
    body: bytes, *, max_addresses: int = MAX_ADDRESSES, max_length: int = MAX_ADDRESS_LENGTH
) -> FarmSubmission:
    """Read ``POST /batch-forward/``: ``{"key": "...", "addresses": ["...", ...]}``.

    Raises :class:`FarmError` 400 for a body that is not that shape (bad JSON, non-string items,
    an empty array, too many addresses, an address longer than ``max_length`` characters) and 401
    for a missing key. Row ``i`` has id ``str(i)`` and echoes the address exactly as given.
    """
    document = _load_object(body)
    key = _key(document)
    addresses = _items(document, "addresses", "address strings", key, max_addresses)
    rows = []
    for seq, address in enumerate(addresses):
        if not isinstance(address, str):
            raise FarmError(
                400, f"addresses[{seq}] must be a string, not {_json_type(address)}", key=key
            )
        if len(address) > max_length:
            raise FarmError(
                400,
                f"addresses[{seq}] is {len(address)} characters long; at most {max_length} "
                f"are allowed (it starts {address[:40]!r})",
                key=key,
            )
        echo = {ECHO_REQUEST: address}
        if address.strip():
            rows.append(BatchRow(seq, str(seq), GeocodeRequest(query=address), echo=echo))
        else:
            rows.append(BatchRow(seq, str(seq), None, fault=BLANK_ADDRESS_FAULT, echo=echo))
    return FarmSubmission(key, FarmEndpoint.BATCH_FORWARD, tuple(rows))


def _degrees(value: object, what: str, limit: float, where: str, key: str | None) -> float:
    """A latitude or longitude given as a JSON number or a numeric string, within ±``limit``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FarmError(
            400,
            f"{where} {what} must be a number or a numeric string, not {_json_type(value)}",
            key=key,
        )
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise FarmError(400, f"{where} {what} {value!r} is not a number", key=key) from None
    if not math.isfinite(number):
        raise FarmError(400, f"{where} {what} {value!r} is not a finite number", key=key)
    if not -limit <= number <= limit:
        raise FarmError(
            400, f"{where} {what} {value} is out of range (-{limit:g} to {limit:g})", key=key
        )
    return number


def _coordinate_text(value: object) -> str:
    return value.strip() if isinstance(value, str) else json.dumps(value)


def parse_batch_reverse(body: bytes, *, max_coordinates: int = MAX_ADDRESSES) -> FarmSubmission:
    """Read ``POST /batch-reverse/`` — OUR EXTENSION, Geocode.Farm has no batch reverse:
    ``{"key": "...", "coordinates": [{"lat": 45.2, "lon": -93.4}, ...]}``.

    ``lat``/``lon`` may be numbers or numeric strings, as the single reverse call accepts. In the
    spirit of the forward batch (a malformed item refuses the batch), any unusable coordinate —
    not an object, missing, not a number, NaN/infinite, out of range — is a 400 naming the item.
    """
    document = _load_object(body)
    key = _key(document)
    items = _items(document, "coordinates", '{"lat", "lon"} objects', key, max_coordinates)
    rows = []
    for seq, item in enumerate(items):
        where = f"coordinates[{seq}]"
        if not isinstance(item, dict):
            raise FarmError(
                400,
                f'{where} must be an object {{"lat": …, "lon": …}}, not {_json_type(item)}',
                key=key,
            )
        for name in ("lat", "lon"):
            if name not in item:
                raise FarmError(400, f'{where} has no "{name}"', key=key)
        lat = _degrees(item["lat"], "latitude", 90.0, where, key)
        lon = _degrees(item["lon"], "longitude", 180.0, where, key)
        echo = {ECHO_LAT: _coordinate_text(item["lat"]), ECHO_LON: _coordinate_text(item["lon"])}
        rows.append(BatchRow(seq, str(seq), ReverseRequest(lat=lat, lon=lon), echo=echo))
    return FarmSubmission(key, FarmEndpoint.BATCH_REVERSE, tuple(rows))


def _query_key(params: Mapping[str, str]) -> str:
    key = params.get("key", "")
    if not key.strip():
        raise FarmError(401, "the API key is missing: add ?key=YOUR_API_KEY to the URL")
    return key


def parse_single_forward(
    params: Mapping[str, str], *, max_length: int = MAX_ADDRESS_LENGTH
) -> tuple[str, GeocodeRequest]:
    """``GET /forward/?key=…&addr=…`` → (key, request). 401 without a key, 400 without ``addr``
    (absent, empty or blank: the documented "missing parameter").

    The address limit of the batch call is applied here too (the single page states none).
    """
    key = _query_key(params)
    addr = params.get("addr", "")
    if not addr.strip():
        raise FarmError(
            400, "the address is missing: add &addr=… (URL-encoded) to the URL", key=key
        )
    if len(addr) > max_length:
        raise FarmError(
            400,
            f"the address is {len(addr)} characters long; at most {max_length} are allowed",
            key=key,
        )
    # Text with nothing to look up ("---", "中文" while the index cannot read it) is not refused
    # here: the batch call answers NO_RESULTS for it, and so does this one (a 404).
    return key, GeocodeRequest(query=addr)


def parse_single_reverse(params: Mapping[str, str]) -> tuple[str, ReverseRequest]:
    """``GET /reverse/?key=…&lat=…&lon=…`` → (key, request); 401 without a key, 400 for a
    missing or invalid latitude/longitude (the spec's documented 400)."""
    key = _query_key(params)
    for name in ("lat", "lon"):
        if not params.get(name, "").strip():
            raise FarmError(
                400, f"the {name} parameter is missing: add &{name}=… to the URL", key=key
            )
    lat = _degrees(params["lat"].strip(), "latitude", 90.0, "the", key)
    lon = _degrees(params["lon"].strip(), "longitude", 180.0, "the", key)
    return key, ReverseRequest(lat=lat, lon=lon)
