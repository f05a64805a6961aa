"""Units, apartments and junk: pulled out of an address line before it is matched.

A unit ("Apt 4B", "#12", "Top 3", "Flat 2", "Unit 5") must never break a match: it is cut from
the text, kept, and put back into the result. "c/o" lines and PO boxes carry no location and go.
"""

from __future__ import annotations

import re

_UNIT_WORDS = (
    r"apt|apartment|appt|unit|suite|ste|flat|top|whg|wohnung|room|rm|lgh|lejl|lejlighed|"
    r"bldg|building|stiege|tur|tuer|door|dept|department|office|ofc|space|spc|lot|"
    r"floor|etage|stock|og"
)
_UNIT = re.compile(
    rf"(?:,\s*)?(?:\b(?:{_UNIT_WORDS})\b\.?\s*(?:no\.?|nr\.?|number)?\s*(?P<v1>[a-z]?\d[-a-z0-9/]*|[a-z]\b)"
    rf"|#\s*(?P<v2>[a-z0-9][-a-z0-9/]*))",
    re.IGNORECASE,
)
_CARE_OF = re.compile(r"\b(?:c/o|c\.o\.|care of|attn:?|z\.?\s?hd\.?)[^,\n]*,?", re.IGNORECASE)
_PO_BOX = re.compile(
    r"\b(?:p\.?\s?o\.?\s?box|post\s+office\s+box|postfach|case postale|boite postale|bp)\s*\d+\b,?",
    re.IGNORECASE,
)


# What each pattern cannot match without (lower case): a cheap test that spares most addresses
# the case-insensitive search. A pattern letter matches its ASCII capital and, under Unicode
# case folding, only these four other characters ("İ", "ı", "ſ", the Kelvin sign): text holding
# one of them is always searched, so the test never skips a match.
_FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]")
_UNIT_MARKS = re.compile("|".join(map(re.escape, ("#", *_UNIT_WORDS.split("|")))))
_CARE_OF_MARKS = re.compile(r"c/o|c\.o\.|care of|attn|hd")
_PO_BOX_MARKS = re.compile(r"box|postfach|postale|bp")
_ANY_MARKS = re.compile("|".join(p.pattern for p in (_UNIT_MARKS, _CARE_OF_MARKS, _PO_BOX_MARKS)))


def _may_hold(text: str, marks: re.Pattern[str]) -> bool:
    if not text.isascii() and _FOLDS_TO_ASCII.search(text):
        return True
    return marks.search(text.lower()) is not None


def clean_line(text: str) -> tuple[str, str | None]:
    """:func:`strip_junk`, then :func:`split_unit`: an address line without junk, and its unit.
    Most lines hold no mark of either, which one search of the lowered text tells."""
    if (text.isascii() or not _FOLDS_TO_ASCII.search(text)) and not _ANY_MARKS.search(text.lower()):
        return " ".join(text.split()), None
    return split_unit(strip_junk(text))


def split_unit(text: str) -> tuple[str, str | None]:
    """``("Main St 5 Apt 4B")`` → ``("Main St 5", "Apt 4B")``; the unit as written, or None."""
    if not _may_hold(text, _UNIT_MARKS):
        return text, None
    m = _UNIT.search(text)
    if not m:
        return text, None
    unit = m.group(0).strip(" ,")
    rest = (text[: m.start()] + " " + text[m.end() :]).strip(" ,")
    return " ".join(rest.split()), unit


def strip_junk(text: str) -> str:
    """Remove care-of lines and PO boxes, which locate nothing."""
    if _may_hold(text, _CARE_OF_MARKS):
        text = _CARE_OF.sub(" ", text)
    if _may_hold(text, _PO_BOX_MARKS):
        text = _PO_BOX.sub(" ", text)
    return " ".join(text.split())
