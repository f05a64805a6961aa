"""Our results in Geocode.Farm's field vocabulary, and the ``accuracy`` word for each.

Geocode.Farm omits a field it has no value for rather than sending null or "", so every mapping
here drops empty parts.
"""

from __future__ import annotations

from geobatch.formats.farm.envelope import JsonObject, format_coordinate
from geobatch.model import Address, CalculationMethod, Confidence, EntityType, GeocodeResult

EXACT_MATCH = "EXACT_MATCH"
HIGH_ACCURACY = "HIGH_ACCURACY"
MEDIUM_ACCURACY = "MEDIUM_ACCURACY"
LOW_ACCURACY = "LOW_ACCURACY"
UNKNOWN_ACCURACY = "UNKNOWN_ACCURACY"

# Our confidence already encodes how well the query was explained (UpHierarchy, ambiguity and
# contradictions lower it; see geobatch.geocode.rules), so it decides the accuracy word. The entity
# type only refines Medium: a house-level match that is merely uncertain (interpolated, a word left
# over) is still closer than a town-level one. A town asked for and found is EXACT_MATCH, as in
# Geocode.Farm's own "Łask, Poland" answer.
#
#   confidence  | house-level (Address) | anything coarser
#   ------------+-----------------------+-----------------
#   High        | EXACT_MATCH *         | EXACT_MATCH
#   Medium      | HIGH_ACCURACY         | MEDIUM_ACCURACY
#   Low         | LOW_ACCURACY          | LOW_ACCURACY
#
#   * HIGH_ACCURACY when the point is interpolated rather than a surveyed address point.
ACCURACY: dict[tuple[Confidence, bool], str] = {
    (Confidence.HIGH, True): EXACT_MATCH,
    (Confidence.HIGH, False): EXACT_MATCH,
    (Confidence.MEDIUM, True): HIGH_ACCURACY,
    (Confidence.MEDIUM, False): MEDIUM_ACCURACY,
    (Confidence.LOW, True): LOW_ACCURACY,
    (Confidence.LOW, False): LOW_ACCURACY,
}
_INTERPOLATED = frozenset({CalculationMethod.INTERPOLATION, CalculationMethod.INTERPOLATION_OFFSET})


def accuracy(result: GeocodeResult) -> str:
    """The accuracy word of a result, by the table above."""
    house_level = result.entity_type is EntityType.ADDRESS
    word = ACCURACY.get((result.confidence, house_level), UNKNOWN_ACCURACY)
    if word == EXACT_MATCH and house_level and result.calculation_method in _INTERPOLATED:
        return HIGH_ACCURACY
    return word


def _present(pairs: list[tuple[str, str | None]]) -> JsonObject:
    return {name: value for name, value in pairs if value and value.strip()}


def full_address(result: GeocodeResult) -> str | None:
    """The formatted address; a result without one (a bare place) falls back to its name."""
    return result.address.formatted or result.name or None


def address_parts(address: Address) -> list[tuple[str, str | None]]:
    """Address parts under Geocode.Farm's names, in the order of its samples. We have no
    third-level division, so ``admin_3`` is never sent."""
    return [
        ("house_number", address.house_number),
        ("street_name", address.street),
        ("neighborhood", address.neighborhood),
        ("locality", address.locality),
        ("admin_2", address.admin_district2),
        ("admin_1", address.admin_district),
        ("country", address.country),
        ("postal_code", address.postal_code),
    ]


def batch_result(result: GeocodeResult, *, include_accuracy: bool = False) -> JsonObject:
    """The flat object of a batch ``RESULTS[].result``: string lat/lon first, then the parts.

    The spec's batch result has no ``accuracy``; ``include_accuracy`` adds it as an extension.
    """
    fields = _present(
        [
            ("lat", format_coordinate(result.point.lat)),
            ("lon", format_coordinate(result.point.lon)),
            ("full_address", full_address(result)),
            *address_parts(result.address),
        ]
    )
    if include_accuracy:
        fields["accuracy"] = accuracy(result)
    return fields


def forward_result(result: GeocodeResult) -> JsonObject:
    """The single forward ``RESULTS.result``: coordinates, address, accuracy."""
    return {
        "coordinates": {
            "lat": format_coordinate(result.point.lat),
            "lon": format_coordinate(result.point.lon),
        },
        "address": _present(
            [("full_address", full_address(result)), *address_parts(result.address)]
        ),
        "accuracy": accuracy(result),
    }


def reverse_result(result: GeocodeResult) -> JsonObject:
    """The single reverse ``RESULTS.result``: the match under key ``"0"`` (flat, with
    ``formatted_address``/``latitude``/``longitude``) and ``accuracy`` beside it — the shape the
    Perl client's fixture and the official PHP SDK read."""
    match = _present(
        [
            *address_parts(result.address),
            ("formatted_address", full_address(result)),
            ("latitude", format_coordinate(result.point.lat)),
            ("longitude", format_coordinate(result.point.lon)),
        ]
    )
    return {"0": match, "accuracy": accuracy(result)}
