"""Bing Dataflow REST resources: DataflowJob, job list and error envelopes in JSON and XML,
compared structurally with the published api-* and walkthrough samples."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from geobatch.formats.bing import JobView, render_error, render_job, render_job_list
from geobatch.formats.bing.responses import json_date, xml_date
from tests.conftest import shared_spec_file

REST = "{http://schemas.microsoft.com/search/local/ws/rest/v1}"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
PDT = timezone(timedelta(hours=-7))
JOB_ID = "5bf10c37df944083b1879fbb0556e67e"
BASE = f"https://spatial.virtualearth.net/REST/v1/dataflows/Geocode/{JOB_ID}"


def completed_job(**changes: Any) -> JobView:
    """The job of the Response Data page's sample."""
    values: dict[str, Any] = {
        "id": JOB_ID,
        "description": "Xml",
        "status": "Completed",
        "created": datetime(2010, 5, 10, 13, 22, 35, 55340, tzinfo=PDT),
        "completed": datetime(2010, 5, 10, 13, 23, 49, 195965, tzinfo=PDT),
        "total": 12,
        "processed": 12,
        "failed": 2,
        "error_message": None,
        "self_url": BASE,
        "succeeded_url": BASE + "/output/succeeded",
        "failed_url": BASE + "/output/failed",
    }
    values.update(changes)
    return JobView(**values)


def pending_job() -> JobView:
    return completed_job(
        status="Pending",
        completed=None,
        total=0,
        processed=0,
        failed=0,
        succeeded_url=None,
        failed_url=None,
        description="Geocode Demo",
    )


def _tags(element: ET.Element) -> list[str]:
    return [child.tag.replace(REST, "") for child in element]


def _job_element(body: bytes) -> ET.Element:
    job = ET.fromstring(body).find(f"{REST}ResourceSets/{REST}ResourceSet/{REST}Resources")
    assert job is not None
    return job[0]


# --- JSON ----------------------------------------------------------------------------------------


def test_json_job_has_the_keys_order_and_values_of_the_sample() -> None:
    sample = json.loads(shared_spec_file("api-dataflowjob-response-completed.json").read_text())
    body, media = render_job(completed_job(), "json", "e8bfe25fdc4f4bc5824cda4e568e1c19")
    assert media == "application/json; charset=utf-8"
    ours = json.loads(body)
    assert list(ours) == list(sample)
    assert ours["brandLogoUri"] == sample["brandLogoUri"]
    for key in ("authenticationResultCode", "statusCode", "statusDescription", "traceId"):
        assert ours[key] == sample[key]
    (our_set,), (sample_set,) = ours["resourceSets"], sample["resourceSets"]
    assert list(our_set) == list(sample_set) and our_set["estimatedTotal"] == 1
    assert our_set["resources"] == sample_set["resources"]  # every key, value and order
    assert list(our_set["resources"][0]) == list(sample_set["resources"][0])
    assert b"https:\\/\\/spatial.virtualearth.net\\/REST" in body  # WCF escapes "/"


def test_json_pending_job_omits_completed_date_and_output_links() -> None:
    body, _ = render_job(pending_job(), "json", "t", status_code=201)
    ours = json.loads(body)
    assert (ours["statusCode"], ours["statusDescription"]) == (201, "Created")
    job = ours["resourceSets"][0]["resources"][0]
    assert "completedDate" not in job
    assert job["links"] == [{"role": "self", "url": BASE}]
    assert job["description"] == "Geocode Demo"


def test_json_aborted_job_has_error_message_and_no_output_links() -> None:
    body, _ = render_job(completed_job(status="Aborted", error_message="bad file"), "json", "t")
    job = json.loads(body)["resourceSets"][0]["resources"][0]
    assert job["errorMessage"] == "bad file"
    assert [link["role"] for link in job["links"]] == ["self"]
    assert list(job).index("errorMessage") == list(job).index("description") + 1


def test_json_only_existing_outputs_are_linked_in_client_order() -> None:
    body, _ = render_job(completed_job(failed_url=None), "json", "t")
    links = json.loads(body)["resourceSets"][0]["resources"][0]["links"]
    # tidygeocoder downloads links[2] (1-based): it must be the succeeded output.
    assert [link.get("name") for link in links] == [None, "succeeded"]
    assert list(links[1]) == ["name", "role", "url"]


def test_json_job_list_matches_the_geocode_entry_of_the_sample() -> None:
    sample = json.loads(shared_spec_file("corrected/api-listjobs-response.json").read_text())
    geocode_entry = next(
        r for r in sample["resourceSets"][0]["resources"] if r.get("description") == "Geocode"
    )
    unnamed = completed_job(description=None, failed_url=None)
    body, _ = render_job_list([unnamed, pending_job()], "json", "t")
    resources = json.loads(body)["resourceSets"][0]["resources"]
    assert list(resources[0]) == list(geocode_entry)
    assert resources[0]["description"] == "Geocode"
    named = resources[1]
    assert list(named)[:4] == ["__type", "id", "links", "name"]  # name after links (sample)
    assert named["name"] == "Geocode Demo"
    assert json.loads(body)["resourceSets"][0]["estimatedTotal"] == 2


def test_json_error_envelope() -> None:
    body, media = render_error(400, ["input is required"], "JSON", "abc")
    assert media.startswith("application/json")
    ours = json.loads(body)
    assert list(ours) == [
        "authenticationResultCode",
        "brandLogoUri",
        "copyright",
        "errorDetails",
        "statusCode",
        "statusDescription",
        "traceId",
    ]
    assert (ours["statusCode"], ours["statusDescription"]) == (400, "Bad Request")
    assert ours["errorDetails"] == ["input is required"]
    assert ours["authenticationResultCode"] == "ValidCredentials"


@pytest.mark.parametrize(
    ("status", "override", "expected"),
    [
        (401, None, "InvalidCredentials"),
        (401, "NoCredentials", "NoCredentials"),
        (503, None, "ValidCredentials"),
    ],
)
def test_error_authentication_codes(status: int, override: str | None, expected: str) -> None:
    body, _ = render_error(status, ["x"], "json", "t", authentication=override)
    assert json.loads(body)["authenticationResultCode"] == expected


# --- XML -----------------------------------------------------------------------------------------


def test_xml_job_has_the_element_order_of_the_sample() -> None:
    sample = ET.parse(shared_spec_file("api-dataflowjob-response-completed.xml")).getroot()
    body, media = render_job(completed_job(), "xml", "f65bd9af90e241b3a7d52316314eb352")
    assert media == "application/xml; charset=utf-8"
    ours = ET.fromstring(body)
    assert ours.tag == sample.tag
    assert _tags(ours) == _tags(sample)
    ours_job, sample_job = _job_element(body), _job_element(ET.tostring(sample))
    assert _tags(ours_job) == _tags(sample_job)
    for mine, theirs in zip(ours_job, sample_job, strict=True):
        if mine.tag == REST + "Link":
            assert list(mine.attrib) == list(theirs.attrib)  # role first, then name
            assert mine.attrib == theirs.attrib
        elif mine.tag.endswith("Date"):
            assert re.fullmatch(
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}[+-]\d\d:\d\d", mine.text or ""
            )
        elif mine.tag != REST + "Link":
            assert mine.text == theirs.text
    raw = body.decode()
    assert raw.startswith('<Response xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ')
    assert raw.index("<Link role=") < raw.index("<Status>")  # clients stop reading at Status


def test_xml_create_response_matches_the_walkthrough() -> None:
    sample = ET.parse(shared_spec_file("walkthrough-createjob-response-201.xml")).getroot()
    body, _ = render_job(pending_job(), "xml", "b1aae77f9b9145ffa87d97d7d405cffd", status_code=201)
    ours = ET.fromstring(body)
    assert _tags(ours) == _tags(sample)
    for name in ("StatusCode", "StatusDescription", "AuthenticationResultCode", "TraceId"):
        assert ours.findtext(REST + name) == sample.findtext(REST + name)
    ours_job, sample_job = _job_element(body), _job_element(ET.tostring(sample))
    assert _tags(ours_job) == _tags(sample_job)
    completed = ours_job.find(REST + "CompletedDate")
    assert completed is not None and completed.get(XSI_NIL) == "true"
    assert ours_job.findtext(REST + "Description") == "Geocode Demo"


def test_xml_status_response_matches_the_walkthrough() -> None:
    sample = ET.parse(shared_spec_file("walkthrough-jobstatus-response-completed.xml")).getroot()
    body, _ = render_job(completed_job(), "xml", "t")
    assert _tags(_job_element(body)) == _tags(_job_element(ET.tostring(sample)))


def test_xml_job_list_matches_the_sample_entries() -> None:
    sample = ET.parse(shared_spec_file("api-listjobs-response.xml")).getroot()
    resources = sample.find(f"{REST}ResourceSets/{REST}ResourceSet/{REST}Resources")
    assert resources is not None
    geocode_entry = next(e for e in resources if e.findtext(REST + "Description") == "Geocode")
    named_entry = next(e for e in resources if e.find(REST + "Name") is not None)
    body, _ = render_job_list(
        [completed_job(description="", failed_url=None), completed_job()], "xml", "t"
    )
    ours = ET.fromstring(body).find(f"{REST}ResourceSets/{REST}ResourceSet/{REST}Resources")
    assert ours is not None
    assert _tags(ours[0]) == _tags(geocode_entry)
    assert _tags(ours[1])[:2] == _tags(named_entry)[:2] == ["Name", "Id"]
    assert ours[1].findtext(REST + "Description") == "Geocode"
    assert (
        ET.fromstring(body).findtext(f"{REST}ResourceSets/{REST}ResourceSet/{REST}EstimatedTotal")
        == "2"
    )


def test_xml_aborted_job_puts_error_message_last() -> None:
    body, _ = render_job(completed_job(status="Aborted", error_message="not XML"), "xml", "t")
    job = _job_element(body)
    assert _tags(job)[-1] == "ErrorMessage"
    assert [link.get("role") for link in job.iter(REST + "Link")] == ["self"]


def test_xml_error_envelope() -> None:
    body, _ = render_error(404, ["no such job", "a & b <c>"], "xml", "trace")
    root = ET.fromstring(body)
    assert _tags(root) == [
        "Copyright",
        "BrandLogoUri",
        "StatusCode",
        "StatusDescription",
        "AuthenticationResultCode",
        "ErrorDetails",
        "TraceId",
    ]
    assert root.findtext(REST + "StatusDescription") == "Not Found"
    details = root.find(REST + "ErrorDetails")
    assert details is not None
    assert [e.text for e in details] == ["no such job", "a & b <c>"]


# --- dates and formats ---------------------------------------------------------------------------


def test_dates() -> None:
    moment = datetime(2010, 5, 10, 13, 23, 49, 195965, tzinfo=PDT)
    assert json_date(moment) == "Mon, 10 May 2010 20:23:49 GMT"
    assert xml_date(moment) == "2010-05-10T13:23:49.1959650-07:00"
    assert xml_date(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.0000000+00:00"
    assert json_date(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "Tue, 02 Jan 2024 03:04:05 GMT"


def test_unknown_response_format_is_refused() -> None:
    with pytest.raises(ValueError, match="json or xml"):
        render_job(completed_job(), "csv", "t")
