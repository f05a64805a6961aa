"""The keys a locality or admin area answers to, as written in queries and in the data."""

from __future__ import annotations

from functools import lru_cache

from geobatch.text.abbreviations import name_key, name_keys

# Words people add to locality names that the data often leaves out, and the reverse.
_LOCALITY_NOISE = ("county", "bezirk", "kreis", "district", "city", "stadt", "marktgemeinde")


@lru_cache(maxsize=100_000)
def locality_keys(*names: str | None) -> frozenset[str]:
    """Keys a locality answers to: ``"Queens County"`` → {"queenscounty", "queens"}."""
    keys: set[str] = set()
    for name in names:
        if not name:
            continue
        keys.update(name_keys(name))
        words = [w for w in name.replace("(", " ").replace(")", " ").split()]
        trimmed = [w for w in words if w.lower() not in _LOCALITY_NOISE]
        if trimmed and len(trimmed) < len(words):
            keys.add(name_key(" ".join(trimmed)))
        # "Buchs (SG)" is written "Buchs".
        if "(" in name:
            keys.add(name_key(name.split("(")[0]))
    keys.discard("")
    return frozenset(keys)
