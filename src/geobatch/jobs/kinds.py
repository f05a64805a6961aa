"""The kinds of job (which API created them) and what differs between them in the runner.

A Bing job arrives as a file: the runner decodes it with the kind's codec and counts each row
against the key's daily usage as it is geocoded. A Geocode.Farm batch arrives as already decoded
rows, is paid for when submitted (credits = number of addresses) and has no file to render. A CSV
job (the web page's upload of a plain CSV) is a file like a Bing job, decoded by the plain CSV
codec, and renders the CLI's output.
"""

from __future__ import annotations

from geobatch.batch.rowtask import stored_row_outcome

BING = "bing"
FARM = "farm"
CSV = "csv"

# Kinds charged in full at submission: processing their rows must not count usage again.
PREPAID_KINDS = frozenset({FARM})

__all__ = ["BING", "FARM", "PREPAID_KINDS", "stored_row_outcome"]
