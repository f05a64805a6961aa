"""Geocode.Farm v4 wire format: parse its requests, render its JSON replies. Pure: no I/O.

- :mod:`.parse` — the batch bodies (forward, and our batch-reverse extension) and the single
  calls' query parameters, refused with :class:`FarmError` as the spec's status codes say;
- :mod:`.batch` — the submission reply and the result URL's reply;
- :mod:`.single` — the single forward/reverse replies and their "no results" 404 bodies;
- :mod:`.results` — our results under Geocode.Farm's field names, and the accuracy table;
- :mod:`.envelope` — LEGAL/STATUS/USER sections, error bodies, value formats.

The spec is ``../shared/spec/geocode-farm.md``; what we accept and send is in
docs/geocode-farm.md.
"""

from geobatch.formats.farm.batch import (
    NO_RESULTS,
    RESULT_RETENTION,
    BatchState,
    FarmBatchInfo,
    render_result_response,
    render_submit_response,
    result_entry,
    result_url,
)
from geobatch.formats.farm.envelope import (
    ERROR_STATUS_CODES,
    FarmEndpoint,
    FarmError,
    FarmUser,
    JsonObject,
    encode_json,
    format_coordinate,
    format_timestamp,
    render_error,
    render_farm_error,
)
from geobatch.formats.farm.parse import (
    BLANK_ADDRESS_FAULT,
    MAX_ADDRESS_LENGTH,
    MAX_ADDRESSES,
    FarmSubmission,
    parse_batch_forward,
    parse_batch_reverse,
    parse_single_forward,
    parse_single_reverse,
)
from geobatch.formats.farm.results import ACCURACY, accuracy
from geobatch.formats.farm.single import (
    render_single_forward,
    render_single_no_results,
    render_single_reverse,
    single_http_status,
)

__all__ = [
    "ACCURACY",
    "BLANK_ADDRESS_FAULT",
    "ERROR_STATUS_CODES",
    "MAX_ADDRESSES",
    "MAX_ADDRESS_LENGTH",
    "NO_RESULTS",
    "RESULT_RETENTION",
    "BatchState",
    "FarmBatchInfo",
    "FarmEndpoint",
    "FarmError",
    "FarmSubmission",
    "FarmUser",
    "JsonObject",
    "accuracy",
    "encode_json",
    "format_coordinate",
    "format_timestamp",
    "parse_batch_forward",
    "parse_batch_reverse",
    "parse_single_forward",
    "parse_single_reverse",
    "render_error",
    "render_farm_error",
    "render_result_response",
    "render_single_forward",
    "render_single_no_results",
    "render_single_reverse",
    "render_submit_response",
    "result_entry",
    "result_url",
    "single_http_status",
]
