"""Decode ``GeocodeFeed`` XML (schema v1.0 and v2.0) entity by entity with a safe iterparse.

defusedxml refuses any DTD, entity declaration or external reference, so an XML bomb or an
external-entity probe ends as an :class:`InputError` instead of being expanded; the parser reads
through a :class:`~geobatch.formats.bing.xmlguard.TokenGuard`, so one huge token (a comment or
attribute value of many megabytes, which expat 2.5 parses in quadratic time) is refused before
the parser holds it. Each ``GeocodeEntity`` is dropped from the tree once read, so memory does
not grow with the file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

import defusedxml
import defusedxml.ElementTree as SafeET

from geobatch.errors import InputError
from geobatch.formats.batch import BatchHeader, BatchRow
from geobatch.formats.bing import schema as s
from geobatch.formats.bing.entity import Kind, build_entity
from geobatch.formats.bing.xmlguard import MAX_TOKEN_BYTES, TokenGuard

# More elements than this inside one entity is not a geocode request; stop before memory goes.
MAX_ELEMENTS_PER_ENTITY = 1000

# XML attribute → canonical key, per element path inside GeocodeEntity.
_ATTRIBUTES: dict[str, dict[str, str]] = {
    "GeocodeRequest": {
        "Culture": s.CULTURE,
        "Query": s.QUERY,
        "MaxResults": s.MAX_RESULTS,
        "IncludeNeighborhood": s.INCLUDE_NEIGHBORHOOD,
        "IncludeQueryParse": s.INCLUDE_QUERY_PARSE,
        "StrictMatch": s.STRICT_MATCH,
    },
    "GeocodeRequest/Address": {
        "AddressLine": s.ADDRESS_LINE,
        "AdminDistrict": s.ADMIN_DISTRICT,
        "Locality": s.LOCALITY,
        "PostalCode": s.POSTAL_CODE,
        "CountryRegion": s.COUNTRY_REGION,
        "AdminDistrict2": s.ADMIN_DISTRICT2,
        "District": s.DISTRICT,
        "PostalTown": s.POSTAL_TOWN,
        "FormattedAddress": s.FORMATTED_ADDRESS,
    },
    "GeocodeRequest/ConfidenceFilter": {"MinimumConfidence": s.MIN_CONFIDENCE},
    "ReverseGeocodeRequest": {
        "Culture": s.REV_CULTURE,
        "IncludeEntityTypes": s.REV_ENTITY_TYPES,
        "IncludeNeighborhood": s.REV_INCLUDE_NEIGHBORHOOD,
        "MaxResults": s.REV_MAX_RESULTS,
    },
    "ReverseGeocodeRequest/Location": {
        "Latitude": s.REV_LATITUDE,
        "Longitude": s.REV_LONGITUDE,
    },
    "ReverseGeocodeRequest/ConfidenceFilter": {"MinimumConfidence": s.REV_MIN_CONFIDENCE},
}
PRESENT = "has:"  # echo key prefix marking that an element was there (even with no attributes)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _version(root: ET.Element) -> str:
    raw = (root.get("Version") or "").strip()
    if not raw:
        return "1.0"  # "If it is not set, version 1.0 is the default."
    try:
        number = Decimal(raw)
    except InvalidOperation:
        number = Decimal(-1)
    if number == 1:
        return "1.0"
    if number == 2:
        return "2.0"
    raise InputError(f"GeocodeFeed Version='{raw}' is not supported: use 1.0 or 2.0")


def _entity_fields(entity: ET.Element) -> tuple[dict[str, str], Kind]:
    """Canonical field values and echo markers of one GeocodeEntity, and its request kind."""
    fields: dict[str, str] = {s.ID: entity.get("Id", "")}
    if entity.get("MaxResults") is not None:
        fields[s.ENTITY_MAX_RESULTS] = entity.get("MaxResults", "")
    seen: set[str] = set()
    for child in entity:
        name = _local(child.tag)
        if name not in ("GeocodeRequest", "ReverseGeocodeRequest") or name in seen:
            continue  # response/status elements of a re-uploaded output file are ignored
        seen.add(name)
        _collect(child, name, fields)
        for grandchild in child:
            path = f"{name}/{_local(grandchild.tag)}"
            if path in _ATTRIBUTES and PRESENT + path not in fields:
                _collect(grandchild, path, fields)
    if "ReverseGeocodeRequest" in seen:
        return fields, "reverse"  # both kinds given: reverse, as spec §16 recommends
    return fields, "forward" if "GeocodeRequest" in seen else "none"


def _collect(element: ET.Element, path: str, fields: dict[str, str]) -> None:
    fields[PRESENT + path] = ""
    for attribute, key in _ATTRIBUTES[path].items():
        value = element.get(attribute)
        if value is not None:
            fields[key] = value


class XmlBatch:
    """A decoded XML file: the root is read at once (for the version), entities lazily."""

    def __init__(self, stream: BinaryIO, max_token: int = MAX_TOKEN_BYTES) -> None:
        guarded = TokenGuard(stream, max_token)
        self._events = self._safe(
            SafeET.iterparse(guarded, events=("start", "end"), forbid_dtd=True)
        )
        event, root = next(self._events, ("", None))
        if root is None or event != "start":
            raise InputError("the file holds no XML element")
        if _local(root.tag) != "GeocodeFeed":
            raise InputError(
                f"the root element is <{_local(root.tag)}>; a Bing batch file's root is "
                "<GeocodeFeed>"
            )
        self._root = root
        self.header = BatchHeader(format="xml", version=_version(root))

    @staticmethod
    def _safe(events: Iterator[tuple[str, ET.Element]]) -> Iterator[tuple[str, ET.Element]]:
        try:
            yield from events
        except ET.ParseError as error:
            line, column = error.position
            raise InputError(
                f"the XML is not well-formed at line {line}, column {column + 1}: "
                f"{str(error).split(':')[0]}"
            ) from None
        except defusedxml.DTDForbidden:
            raise InputError(
                "the XML declares a DTD (<!DOCTYPE ...>); DTDs are refused for safety"
            ) from None
        except defusedxml.EntitiesForbidden:
            raise InputError("the XML declares entities; entity declarations are refused") from None
        except defusedxml.ExternalReferenceForbidden:
            raise InputError("the XML refers to an external resource; that is refused") from None

    def rows(self) -> Iterator[BatchRow]:
        depth = 1  # the root's start event was consumed in __init__
        elements = 0
        seq = 0
        for event, element in self._events:
            if event == "start":
                depth += 1
                elements += 1
                if elements > MAX_ELEMENTS_PER_ENTITY:
                    raise InputError(
                        f"entity {seq + 1} holds more than {MAX_ELEMENTS_PER_ENTITY} elements; "
                        "that is not a geocode request"
                    )
                continue
            depth -= 1
            if depth != 1:
                continue
            elements = 0
            if _local(element.tag) == "GeocodeEntity":
                yield self._row(seq, element)
                seq += 1
            self._root.clear()  # drop what has been read: memory stays flat
        if seq == 0:
            raise InputError("the GeocodeFeed holds no GeocodeEntity elements")

    def _row(self, seq: int, element: ET.Element) -> BatchRow:
        fields, kind = _entity_fields(element)
        entity = build_entity(fields, kind=kind)
        return BatchRow(
            seq=seq,
            id=fields[s.ID].strip(),
            request=entity.request,
            options=entity.options,
            fault=entity.fault,
            echo=fields,
        )
