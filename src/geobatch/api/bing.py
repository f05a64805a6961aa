"""The Bing Maps Geocode Dataflow endpoints (spec §3–§6): create a job, get its status, download
its results, list the key's jobs. Each route parses, calls one job-service function, renders."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from geobatch.api import openapi
from geobatch.api.params import Query, base_url
from geobatch.formats.bing import (
    INPUT_FORMATS,
    JobView,
    media_type_for,
    render_job,
    render_job_list,
)
from geobatch.jobs.errors import BadJobRequest, JobNotFound
from geobatch.jobs.kinds import BING
from geobatch.jobs.service import JobService, NewJobRequest
from geobatch.jobs.store import Job, JobStatus

KIND = BING
PREFIX = "/rest/v1/dataflows"  # matched lower-cased: see geobatch.api.app.lowercase_paths
OUTCOMES = ("succeeded", "failed")
DOWNLOAD_BLOCK = 256 * 1024


def trace_id() -> str:
    return uuid.uuid4().hex


def _service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


def job_url(request: Request, job_id: str) -> str:
    # No query string: clients append "?key=..." to this URL themselves (spec §4).
    return f"{base_url(request)}/REST/v1/dataflows/Geocode/{job_id}"


def _when(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def job_view(request: Request, job: Job) -> JobView:
    url = job_url(request, job.id)
    done = job.status is JobStatus.COMPLETED and not job.purged
    created = _when(job.created)
    assert created is not None
    return JobView(
        id=job.id,
        description=job.description,
        # Bing has no "Processing": a job is Pending until it is Completed or Aborted.
        status="Pending" if job.status is JobStatus.PROCESSING else str(job.status),
        created=created,
        completed=_when(job.completed),
        total=job.total,
        processed=job.processed,
        failed=job.failed,
        error_message=job.error_message,
        self_url=url,
        succeeded_url=f"{url}/output/succeeded" if done and job.succeeded else None,
        failed_url=f"{url}/output/failed" if done and job.failed else None,
    )


class OpenFileResponse(StreamingResponse):
    """A file already open, sent in blocks and closed at the end. Unlike FileResponse (which
    opens its path only when sending) it cannot fail when the sweep deletes the file meanwhile.
    """

    def __init__(self, stream: BinaryIO, media_type: str) -> None:
        super().__init__(_blocks(stream), media_type=media_type)
        self.headers["content-length"] = str(os.fstat(stream.fileno()).st_size)


def _blocks(stream: BinaryIO) -> Iterator[bytes]:
    # The finally also runs when the client goes away mid-download (the generator is closed).
    with stream:
        while block := stream.read(DOWNLOAD_BLOCK):
            yield block


def _render(request: Request, job: Job, fmt: str, status_code: int = 200) -> Response:
    body, media_type = render_job(job_view(request, job), fmt, trace_id(), status_code=status_code)
    return Response(body, status_code, media_type=media_type)


router = APIRouter(tags=["Bing Maps Geocode Dataflow"])


@router.post(
    PREFIX + "/geocode",
    status_code=201,
    summary="Create Job (upload data)",
    openapi_extra=openapi.dataflow_create(),
    responses=openapi.dataflow_responses(
        201, "The job, created (Pending); Location: its URL.", job=False
    ),
)
async def create_job(request: Request) -> Response:
    query = Query.of(request)
    request.state.fmt = fmt = query.output_format()
    service = _service(request)
    key = service.authenticate(query.key)
    job = await service.submit(key, _new_job_request(query), request.stream())
    response = _render(request, job, fmt, 201)
    response.headers["Location"] = job_url(request, job.id)
    return response


def _new_job_request(query: Query) -> NewJobRequest:
    value = query.get("input")
    if value is None:
        raise BadJobRequest(
            f"the input parameter is required: input={'|'.join(INPUT_FORMATS)} names the format "
            "of the posted data"
        )
    if value.lower() not in INPUT_FORMATS:
        raise BadJobRequest(f"input must be one of {', '.join(INPUT_FORMATS)}, not {value!r}")
    return NewJobRequest(
        kind=KIND,
        input_format=value.lower(),
        description=query.values.get("description"),
        data_location=query.get("datalocation"),
    )


@router.get(
    PREFIX + "/geocode/{job_id}",
    summary="Get Job Status",
    openapi_extra=openapi.dataflow_params(),
    responses=openapi.dataflow_responses(200, "The job, with links to its results when done."),
)
def job_status(request: Request, job_id: str) -> Response:
    query = Query.of(request)
    request.state.fmt = fmt = query.output_format()
    service = _service(request)
    job = service.get_job(service.authenticate(query.key), job_id, KIND)
    return _render(request, job, fmt)


@router.get(
    PREFIX + "/geocode/{job_id}/output/{outcome}",
    summary="Download Results",
    description="`outcome` is `succeeded` or `failed`.",
    openapi_extra=openapi.dataflow_params(),
    responses=openapi.dataflow_download_responses(),
)
def download(request: Request, job_id: str, outcome: str) -> Response:
    query = Query.of(request)
    request.state.fmt = query.output_format()
    service = _service(request)
    key = service.authenticate(query.key)
    if outcome not in OUTCOMES:
        raise JobNotFound(f"there is no output {outcome!r}: use succeeded or failed")
    job, stream = service.open_result(
        key, job_id, "succeeded" if outcome == "succeeded" else "failed", KIND
    )
    assert job.header is not None
    return OpenFileResponse(stream, media_type_for(job.header.format))


@router.get(
    PREFIX + "/listjobs",
    summary="Get Job List",
    openapi_extra=openapi.dataflow_params(),
    responses=openapi.dataflow_responses(200, "The key's jobs of the last days.", job=False),
)
def list_jobs(request: Request) -> Response:
    query = Query.of(request)
    request.state.fmt = fmt = query.output_format()
    service = _service(request)
    jobs = service.list_jobs(service.authenticate(query.key), KIND)
    views = [job_view(request, job) for job in jobs]
    body, media_type = render_job_list(views, fmt, trace_id())
    return Response(body, 200, media_type=media_type)
