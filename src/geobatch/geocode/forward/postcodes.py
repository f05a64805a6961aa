"""Postcode candidates: each postcode the query names, with the town and area it confirms."""

from __future__ import annotations

from collections.abc import Callable

from geobatch.geocode.formatting import format_address
from geobatch.geocode.forward.candidate import Candidate
from geobatch.geocode.forward.evidence import asked_level, context_evidence, unexplained
from geobatch.geocode.forward.query import Analysis
from geobatch.geocode.rules import WEIGHT, Evidence
from geobatch.geocode.vocabulary import Vocabulary, locality_keys
from geobatch.index.read import PostcodeRow
from geobatch.model import Address, BoundingBox, CalculationMethod, EntityType, Point


def postcode_candidates(a: Analysis, vocab: Vocabulary) -> list[Candidate]:
    out = []
    seen: set[int] = set()
    for span, key in a.postcode_spans:
        for row in vocab.postcode_rows(key):
            if row in seen:
                continue
            seen.add(row)
            pc = vocab.data.postcodes[row]
            ev = Evidence(EntityType.POSTCODE, postcode=True)
            covered = set(span.tokens)
            score = WEIGHT["postcode_entity"]
            score += context_evidence(
                a, vocab, ev, covered, locality_keys(pc.locality), locality_keys(pc.admin1),
                pc.country_code,
            )  # fmt: skip
            score += unexplained(a, ev, covered)
            address, bbox = _postcode_parts(vocab, pc)
            out.append(
                Candidate(
                    score,
                    ev,
                    Point(pc.lat, pc.lon),
                    bbox,
                    address,
                    pc.postcode,
                    pc.source,
                    asked_level(a, covered, EntityType.POSTCODE),
                    CalculationMethod.ROOFTOP,
                    covered,
                    pc.country_code,
                )
            )
    return out


def _postcode_parts(
    vocab: Vocabulary, pc: PostcodeRow
) -> tuple[Callable[[], Address], Callable[[], BoundingBox]]:
    """The address and box of a postcode candidate, built only if it is returned."""

    def address() -> Address:
        country = vocab.country_name(pc.country_code)
        return Address(
            postal_code=pc.postcode, locality=pc.locality, admin_district=pc.admin1,
            country=country, country_code=pc.country_code,
            formatted=format_address(
                house_number=None, street=None, unit=None, locality=pc.locality,
                postal_code=pc.postcode, admin_district=pc.admin1, country=country,
                country_code=pc.country_code,
            ),
        )  # fmt: skip

    return address, lambda: BoundingBox(*pc.bbox)
