"""One entity's fields (canonical keys, any format or version) → request, options or a fault.

Decoders only collect raw field values; every rule about what an entity means lives here, so XML,
csv, tab and pipe, v1.0 and v2.0 agree on what is valid and what each fault says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from geobatch.formats.batch import EntityOptions
from geobatch.formats.bing import schema as s
from geobatch.model import Confidence, EntityType, GeocodeRequest, ReverseRequest

Kind = Literal["forward", "reverse", "none", "auto"]

# No address or option needs more; a longer value is refused instead of being sent to a geocoder.
MAX_FIELD_CHARS = 4096


class _Fault(Exception):
    """Internal: the reason an entity is refused (becomes ``BatchRow.fault``)."""


@dataclass(frozen=True, slots=True)
class Entity:
    request: GeocodeRequest | ReverseRequest | None
    options: EntityOptions
    fault: str | None


def _get(fields: Mapping[str, str], *keys: str) -> str:
    """The first non-blank value among ``keys``, stripped; "" when none is given."""
    for key in keys:
        value = fields.get(key, "").strip()
        if value:
            return value
    return ""


def _bool(fields: Mapping[str, str], key: str) -> bool:
    value = _get(fields, key)
    if not value:
        return False
    folded = value.casefold()
    if folded in s.TRUE_WORDS:
        return True
    if folded in s.FALSE_WORDS:
        return False
    name = key.rsplit("/", 1)[-1]
    raise _Fault(f"{name} '{value}' is not valid: use true, false, 1 or 0.")


def _max_results(fields: Mapping[str, str], key: str) -> int:
    value = _get(fields, key, s.ENTITY_MAX_RESULTS)
    if not value:
        return 1
    try:
        number = int(value)
    except ValueError:
        raise _Fault(
            f"MaxResults '{value}' is not valid: give a whole number from 1 to 20."
        ) from None
    low, high = s.MAX_RESULTS_RANGE
    # The official toolkit clamps rather than refuses; so do we.
    return min(max(number, low), high)


def _confidence(fields: Mapping[str, str], *keys: str) -> Confidence | None:
    value = _get(fields, *keys)
    if not value:
        return None
    found = s.CONFIDENCES.get(value.casefold())
    if found is None:
        raise _Fault(
            f"ConfidenceFilter.MinimumConfidence '{value}' is not valid: use High, Medium or Low."
        )
    return found


def _entity_types(fields: Mapping[str, str]) -> tuple[EntityType, ...]:
    value = _get(fields, s.REV_ENTITY_TYPES)
    if not value:
        return ()
    found: list[EntityType] = []
    for part in value.split(","):
        name = part.strip()
        if not name:
            continue
        entity_type = s.REVERSE_ENTITY_TYPES.get(name.casefold())
        if entity_type is None:
            allowed = ", ".join(t.value for t in s.REVERSE_ENTITY_TYPES.values())
            raise _Fault(f"IncludeEntityTypes '{value}' is not valid: use a list of {allowed}.")
        if entity_type not in found:
            found.append(entity_type)
    return tuple(found)


def _degrees(value: str, name: str, limit: float) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise _Fault(
            f"Location.{name} '{value}' is not valid: give a number from -{limit:g} to {limit:g}."
        )
    return number


def _forward(fields: Mapping[str, str], *, v1_text: bool) -> GeocodeRequest:
    if _get(fields, s.FORMATTED_ADDRESS):
        raise _Fault(s.FAULT_FORMATTED_V1_TEXT if v1_text else s.FAULT_FORMATTED)
    request = GeocodeRequest(
        query=_get(fields, s.QUERY) or None,
        address_line=_get(fields, s.ADDRESS_LINE) or None,
        locality=_get(fields, s.LOCALITY) or None,
        admin_district=_get(fields, s.ADMIN_DISTRICT) or None,
        admin_district2=_get(fields, s.ADMIN_DISTRICT2, s.DISTRICT) or None,
        postal_code=_get(fields, s.POSTAL_CODE) or None,
        postal_town=_get(fields, s.POSTAL_TOWN) or None,
        country=_get(fields, s.COUNTRY_REGION) or None,
        max_results=_max_results(fields, s.MAX_RESULTS),
    )
    if request.is_empty():
        raise _Fault(s.FAULT_EMPTY_V1_TEXT if v1_text else s.FAULT_EMPTY)
    return request


def _reverse(fields: Mapping[str, str]) -> ReverseRequest:
    lat_text, lon_text = _get(fields, s.REV_LATITUDE), _get(fields, s.REV_LONGITUDE)
    if not lat_text and not lon_text:
        raise _Fault(s.FAULT_NO_LOCATION)
    if not lat_text or not lon_text:
        raise _Fault(s.FAULT_HALF_LOCATION)
    return ReverseRequest(
        lat=_degrees(lat_text, "Latitude", 90.0),
        lon=_degrees(lon_text, "Longitude", 180.0),
        max_results=_max_results(fields, s.REV_MAX_RESULTS),
        include_entity_types=_entity_types(fields),
    )


def _resolve_kind(fields: Mapping[str, str], kind: Kind) -> Kind:
    """Text rows say nothing about their kind: both coordinates given means reverse (spec §8.2,
    as the toolkit does); a lone coordinate without any address is an incomplete reverse."""
    if kind != "auto":
        return kind
    lat, lon = _get(fields, s.REV_LATITUDE), _get(fields, s.REV_LONGITUDE)
    if lat and lon:
        return "reverse"
    if (lat or lon) and GeocodeRequest(
        query=_get(fields, s.QUERY),
        address_line=_get(fields, s.ADDRESS_LINE),
        locality=_get(fields, s.LOCALITY),
        admin_district=_get(fields, s.ADMIN_DISTRICT),
        postal_code=_get(fields, s.POSTAL_CODE),
        country=_get(fields, s.COUNTRY_REGION),
    ).is_empty():
        return "reverse"
    return "forward"


def _options(
    fields: Mapping[str, str], kind: Kind, request: GeocodeRequest | ReverseRequest | None
) -> EntityOptions:
    if kind == "reverse":
        return EntityOptions(
            max_results=request.max_results if request is not None else 1,
            minimum_confidence=_confidence(fields, s.REV_MIN_CONFIDENCE, s.MIN_CONFIDENCE),
            include_neighborhood=_bool(fields, s.REV_INCLUDE_NEIGHBORHOOD),
            include_entity_types=_entity_types(fields),
            culture=_get(fields, s.REV_CULTURE, s.CULTURE) or None,
        )
    _bool(fields, s.STRICT_MATCH)  # validated for the caller's sake; we have no strict mode
    return EntityOptions(
        max_results=request.max_results if request is not None else 1,
        minimum_confidence=_confidence(fields, s.MIN_CONFIDENCE),
        include_neighborhood=_bool(fields, s.INCLUDE_NEIGHBORHOOD),
        include_query_parse=_bool(fields, s.INCLUDE_QUERY_PARSE),
        culture=_get(fields, s.CULTURE) or None,
    )


def build_entity(
    fields: Mapping[str, str],
    *,
    kind: Kind = "auto",
    v1_text: bool = False,
    extra_fault: str | None = None,
    line: int | None = None,
) -> Entity:
    """Validate one entity. ``kind`` is what the XML said (which request element it had) or
    "auto" for text; ``extra_fault`` is a layout problem the decoder found (too many fields);
    ``line`` (text files) is named in the faults that are ours rather than Bing's wording."""
    resolved = _resolve_kind(fields, kind)
    try:
        if extra_fault is not None:
            raise _Fault(extra_fault)
        # No Id is no fault: the schema marks it required, but Microsoft's own SDS Toolkit sends
        # GeocodeEntity("New York, NY") without one and the real service answered it; the
        # result echoes an empty Id.
        for key, value in fields.items():
            if len(value) > MAX_FIELD_CHARS:
                name = key.rsplit("/", 1)[-1]
                where = f" (line {line})" if line is not None else ""
                raise _Fault(f"{name} is longer than {MAX_FIELD_CHARS} characters{where}.")
        request: GeocodeRequest | ReverseRequest | None
        if resolved == "reverse":
            request = _reverse(fields)
        elif resolved == "forward":
            request = _forward(fields, v1_text=v1_text)
        else:
            raise _Fault(s.FAULT_EMPTY)
        options = _options(fields, resolved, request)
    except _Fault as fault:
        # Options are still read (best effort) so the failed row echoes what was asked.
        try:
            options = _options(fields, resolved, None)
        except _Fault:
            options = EntityOptions()
        return Entity(request=None, options=options, fault=str(fault))
    return Entity(request=request, options=options, fault=None)
