"""Bing Maps Geocode Dataflow wire format: the batch file codec (XML, csv, tab, pipe; schema
v1.0 and v2.0) and the REST resources (DataflowJob, job list, errors) in JSON and XML."""

from geobatch.formats.bing.codec import INPUT_FORMATS, BingCodec, media_type_for
from geobatch.formats.bing.responses import JobView, render_error, render_job, render_job_list

__all__ = [
    "INPUT_FORMATS",
    "BingCodec",
    "JobView",
    "media_type_for",
    "render_error",
    "render_job",
    "render_job_list",
]
