"""Formatted addresses in the order each country writes them."""

from __future__ import annotations

# Countries that write the number before the street ("12 Main St") ...
_NUMBER_FIRST = frozenset(
    {"US", "CA", "GB", "IE", "AU", "NZ", "FR", "BE", "LU", "IN", "ZA", "SG", "MY", "PH", "IL"}
)
# ... and those that write the postcode after the locality and region ("Queens, NY 11427").
_POSTCODE_LAST = frozenset({"US", "CA", "AU", "GB", "IE", "IN", "NZ"})


def format_address(
    *,
    house_number: str | None,
    street: str | None,
    unit: str | None,
    locality: str | None,
    postal_code: str | None,
    admin_district: str | None,
    country: str | None,
    country_code: str | None,
) -> str:
    cc = (country_code or "").upper()
    line1 = _street_line(house_number, street, unit, cc)
    if cc in _POSTCODE_LAST:
        region = " ".join(p for p in (admin_district, postal_code) if p)
        parts = [line1, locality, region, country]
    else:
        parts = [line1, " ".join(p for p in (postal_code, locality) if p), country]
    return ", ".join(p for p in parts if p)


def _street_line(number: str | None, street: str | None, unit: str | None, cc: str) -> str:
    if not street:
        return ""
    if number:
        line = f"{number} {street}" if cc in _NUMBER_FIRST else f"{street} {number}"
    else:
        line = street
    return f"{line}, {unit}" if unit else line
