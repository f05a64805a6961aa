"""Forward geocoding: a request read against the vocabulary, candidates from each reading,
scored by the rules, best first.

The stages, each a module, in the order a request goes through them (as Nominatim's ``search``
package is cut):

- :mod:`.query` — the values the analysis produces (roles, spans, the analysis itself);
- :mod:`.analysis` — the request cut into groups of tokens, then :mod:`.lookup` (every span
  looked up exactly, house numbers, a street name of many towns narrowed to the towns the
  query names) and :mod:`.typos` (words nothing matched, within one or two edits);
- :mod:`.streets` (with :mod:`.numbers`), :mod:`.places`, :mod:`.postcodes` — the candidates
  of each kind (:mod:`.candidate`), with the evidence of :mod:`.evidence`;
- :mod:`.ranking` — candidates best first, their rivals, the answer.

This package's own module is plain Python (it only names the entry points); the stages are
compiled with mypyc like the rest of the engine (``geobatch.native``).
"""

from geobatch.geocode.forward.query import NeedFullRead
from geobatch.geocode.forward.ranking import geocode

__all__ = ["NeedFullRead", "geocode"]
