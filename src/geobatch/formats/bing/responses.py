"""The REST resources of the Dataflow API (spec §2.4–§6, §13): the Response envelope around one
``DataflowJob`` (create, status), around a job list, or around error details — JSON and XML.

Orders are part of the contract: the official sample client and the toolkit read the XML with
an ``XmlReader`` that expects ``Link`` attributes ``role`` then ``name`` and stops at ``Status``,
and tidygeocoder takes the second JSON link as the succeeded download. JSON follows the WCF
serializer the service used: keys alphabetical except ``__type``/``id``/``links``/``name``
first, ``/`` escaped as ``\\/``, members without a value omitted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any

from geobatch.formats.bing import xmlwriter as w

REST_NS = "http://schemas.microsoft.com/search/local/ws/rest/v1"
JOB_TYPE = f"DataflowJob:{REST_NS}"
# Nothing fetches these; clients expect the members to be there. The copyright is ours, not
# Microsoft's: the results come from open data, not from Bing.
COPYRIGHT = (
    "Copyright © geobatch contributors. Geocoding data © OpenStreetMap contributors and the "
    "other open data sources loaded into this server."
)
BRAND_LOGO_URI = "http://spatial.virtualearth.net/Branding/logo_powered_by.png"
JSON_MEDIA_TYPE = "application/json; charset=utf-8"
XML_MEDIA_TYPE = "application/xml; charset=utf-8"
JOB_LIST_TYPE = "Geocode"  # the listing's Description is the job type (spec §6)


@dataclass(frozen=True, slots=True)
class JobView:
    """What a response says about one job; the job service fills it in."""

    id: str
    description: str | None  # the user's description; None or "" when none was given
    status: str  # "Pending" | "Completed" | "Aborted"
    created: datetime
    completed: datetime | None
    total: int
    processed: int
    failed: int
    error_message: str | None
    self_url: str
    succeeded_url: str | None
    failed_url: str | None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def json_date(moment: datetime) -> str:
    """RFC 1123 in GMT: ``Mon, 10 May 2010 20:23:49 GMT``."""
    return format_datetime(_utc(moment).astimezone(UTC), usegmt=True)


def xml_date(moment: datetime) -> str:
    """xs:dateTime with seven fractional digits and the moment's own offset:
    ``2010-05-10T13:22:35.0553408-07:00`` (naive datetimes are taken as UTC)."""
    moment = _utc(moment)
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0{offset[:3]}:{offset[3:]}"


def _links(job: JobView) -> list[tuple[str, str | None, str]]:
    """(role, name, url) in the order clients rely on; output links only once Completed."""
    links: list[tuple[str, str | None, str]] = [("self", None, job.self_url)]
    if job.status == "Completed":
        for name, url in (("succeeded", job.succeeded_url), ("failed", job.failed_url)):
            if url:
                links.append(("output", name, url))
    return links


def _description(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _auth_code(status: int, authentication: str | None) -> str:
    if authentication:
        return authentication
    return "InvalidCredentials" if status == HTTPStatus.UNAUTHORIZED else "ValidCredentials"


# --- JSON ----------------------------------------------------------------------------------------


def _json_job(job: JobView, *, listing: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"__type": JOB_TYPE, "id": job.id}
    body["links"] = [
        {"role": role, "url": url} if name is None else {"name": name, "role": role, "url": url}
        for role, name, url in _links(job)
    ]
    if listing and job.description:
        body["name"] = job.description
    rest: dict[str, Any] = {
        "createdDate": json_date(job.created),
        "failedEntityCount": job.failed,
        "processedEntityCount": job.processed,
        "status": job.status,
        "totalEntityCount": job.total,
    }
    if job.completed is not None:
        rest["completedDate"] = json_date(job.completed)
    description = JOB_LIST_TYPE if listing else job.description
    if description:
        rest["description"] = description
    if job.error_message:
        rest["errorMessage"] = job.error_message
    body.update(sorted(rest.items()))
    return body


def _json_envelope(status: int, trace_id: str, extra: dict[str, Any]) -> tuple[bytes, str]:
    body: dict[str, Any] = {
        "authenticationResultCode": "ValidCredentials",
        "brandLogoUri": BRAND_LOGO_URI,
        "copyright": COPYRIGHT,
        "statusCode": status,
        "statusDescription": _description(status),
        "traceId": trace_id,
    }
    body.update(extra)
    text = json.dumps(dict(sorted(body.items())), ensure_ascii=False, separators=(",", ":"))
    # WCF escapes every "/"; a "/" never occurs inside a JSON escape, so this is safe.
    return text.replace("/", "\\/").encode("utf-8"), JSON_MEDIA_TYPE


def _json_jobs(jobs: Sequence[JobView], status: int, trace_id: str, *, listing: bool) -> bytes:
    resources = [_json_job(job, listing=listing) for job in jobs]
    sets = [{"estimatedTotal": len(resources), "resources": resources}]
    return _json_envelope(status, trace_id, {"resourceSets": sets})[0]


# --- XML -----------------------------------------------------------------------------------------


def _xml_job(job: JobView, *, listing: bool) -> str:
    parts = [w.start(4, "DataflowJob")]
    if listing and job.description:
        parts.append(w.leaf(5, "Name", job.description))
    parts.append(w.leaf(5, "Id", job.id))
    for role, name, url in _links(job):
        pairs = (("role", role), ("name", name or ""))  # role first: clients read it first
        parts.append(f"{'  ' * 5}<Link{w.attributes(pairs)}>{w.text(url)}</Link>\n")
    description = JOB_LIST_TYPE if listing else job.description
    if description:
        parts.append(w.leaf(5, "Description", description))
    parts.append(w.leaf(5, "Status", job.status))
    parts.append(w.leaf(5, "CreatedDate", xml_date(job.created)))
    if job.completed is None:
        parts.append(f'{"  " * 5}<CompletedDate xsi:nil="true" />\n')
    else:
        parts.append(w.leaf(5, "CompletedDate", xml_date(job.completed)))
    parts.append(w.leaf(5, "TotalEntityCount", str(job.total)))
    parts.append(w.leaf(5, "ProcessedEntityCount", str(job.processed)))
    parts.append(w.leaf(5, "FailedEntityCount", str(job.failed)))
    if job.error_message:
        parts.append(w.leaf(5, "ErrorMessage", job.error_message))
    parts.append(w.end(4, "DataflowJob"))
    return "".join(parts)


_XML_ROOT = (
    ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
    ("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"),
    ("xmlns", REST_NS),
)


def _xml_envelope(
    status: int,
    trace_id: str,
    *,
    authentication: str = "ValidCredentials",
    errors: Sequence[str] = (),
    resources: str | None = None,
) -> tuple[bytes, str]:
    parts = [
        w.start(0, "Response", _XML_ROOT),
        w.leaf(1, "Copyright", COPYRIGHT),
        w.leaf(1, "BrandLogoUri", BRAND_LOGO_URI),
        w.leaf(1, "StatusCode", str(status)),
        w.leaf(1, "StatusDescription", _description(status)),
        w.leaf(1, "AuthenticationResultCode", authentication),
    ]
    if errors:
        parts.append(w.start(1, "ErrorDetails"))
        parts.extend(w.leaf(2, "string", message) for message in errors)
        parts.append(w.end(1, "ErrorDetails"))
    parts.append(w.leaf(1, "TraceId", trace_id))
    if resources is not None:
        parts.append(resources)
    parts.append(w.end(0, "Response"))
    return "".join(parts).encode("utf-8"), XML_MEDIA_TYPE


def _xml_jobs(jobs: Sequence[JobView], status: int, trace_id: str, *, listing: bool) -> bytes:
    sets = [
        w.start(1, "ResourceSets"),
        w.start(2, "ResourceSet"),
        w.leaf(3, "EstimatedTotal", str(len(jobs))),
        w.start(3, "Resources"),
        *(_xml_job(job, listing=listing) for job in jobs),
        w.end(3, "Resources"),
        w.end(2, "ResourceSet"),
        w.end(1, "ResourceSets"),
    ]
    return _xml_envelope(status, trace_id, resources="".join(sets))[0]


# --- public --------------------------------------------------------------------------------------


def _check(fmt: str) -> str:
    folded = fmt.strip().casefold()
    if folded not in ("json", "xml"):
        raise ValueError(f"response format must be json or xml, not {fmt!r}")
    return folded


def render_job(
    job: JobView, fmt: str, trace_id: str, *, status_code: int = 200
) -> tuple[bytes, str]:
    """One DataflowJob in its envelope: (body, media type). Pass ``status_code=201`` for the
    Create Job response; the envelope's StatusCode/StatusDescription echo it."""
    if _check(fmt) == "json":
        return _json_jobs([job], status_code, trace_id, listing=False), JSON_MEDIA_TYPE
    return _xml_jobs([job], status_code, trace_id, listing=False), XML_MEDIA_TYPE


def render_job_list(jobs: Sequence[JobView], fmt: str, trace_id: str) -> tuple[bytes, str]:
    """Get Job List: Description is the job type ``Geocode``, Name the user's description."""
    if _check(fmt) == "json":
        return _json_jobs(jobs, 200, trace_id, listing=True), JSON_MEDIA_TYPE
    return _xml_jobs(jobs, 200, trace_id, listing=True), XML_MEDIA_TYPE


def render_error(
    status_code: int,
    messages: Sequence[str],
    fmt: str,
    trace_id: str,
    *,
    authentication: str | None = None,
) -> tuple[bytes, str]:
    """An error envelope: no resource sets, ``errorDetails`` holding ``messages``.
    ``authentication`` overrides AuthenticationResultCode (e.g. ``NoCredentials`` when the key
    is missing); by default 401 says InvalidCredentials and anything else ValidCredentials."""
    auth = _auth_code(status_code, authentication)
    if _check(fmt) == "json":
        extra: dict[str, Any] = {"authenticationResultCode": auth}
        if messages:
            extra["errorDetails"] = list(messages)
        return _json_envelope(status_code, trace_id, extra)
    return _xml_envelope(status_code, trace_id, authentication=auth, errors=messages)
