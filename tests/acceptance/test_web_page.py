"""The web page in a real browser: Debian's chromium driven by Playwright, against a real
``geobatch serve`` over an index of the built-in gazetteer and the Liechtenstein extract.

Upload real Liechtenstein addresses, watch the job reach 100 %, count what the map draws, click a
table row and read its popup, download the output and compare it with the CLI's, single query
and map-click reverse, a hostile file shown as text, a wrong key refused, cancel and delete.
``GEOBATCH_UPDATE_SCREENSHOT=1`` also writes the finished-job view to docs/web-finished-job.png.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import osmium
import pytest

from geobatch.index.build import import_source
from geobatch.index.format import BUILTIN_NAME, data_set_file
from geobatch.sources.osm import OsmSource
from tests.acceptance.conftest import Server, run_cli, start_server
from tests.conftest import REPO_ROOT, shared_file

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("GEOBATCH_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LI_PBF = "osm/liechtenstein-2024-03-03.osm.pbf"
SCREENSHOT = REPO_ROOT / "docs" / "web-finished-job.png"

pytestmark = pytest.mark.acceptance

sync_api = pytest.importorskip("playwright.sync_api")


def _need_chromium() -> None:
    if not CHROMIUM.exists():
        reason = f"needs {CHROMIUM} (Debian's chromium; scripts/setup.sh installs it as root)"
        if REQUIRE_BROWSER:
            pytest.fail(reason + " and GEOBATCH_REQUIRE_BROWSER=1 makes it mandatory")
        pytest.skip(reason)


# --- the server and the data -----------------------------------------------------------------


@pytest.fixture(scope="module")
def li_index(tmp_path_factory: pytest.TempPathFactory, acceptance_index: Path) -> Path:
    index = tmp_path_factory.mktemp("web-li-index")
    shutil.copy(data_set_file(acceptance_index, BUILTIN_NAME), data_set_file(index, BUILTIN_NAME))
    import_source(index, OsmSource(shared_file(LI_PBF)))
    return index


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory, li_index: Path) -> Iterator[Server]:
    # Small chunks: a few hundred rows take several progress steps, as a big file would.
    running = start_server(tmp_path_factory, li_index, ("ada", "bob"), GEOBATCH_CHUNK_SIZE="25")
    yield running
    running.stop()


def li_addresses(count: int) -> list[str]:
    """Real addresses of the Liechtenstein extract, spread over the country, one per line."""

    class Addresses(osmium.SimpleHandler):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.found: set[str] = set()

        def node(self, node: Any) -> None:
            tags = node.tags
            if "addr:street" in tags and "addr:housenumber" in tags:
                place = f"{tags.get('addr:postcode', '')} {tags.get('addr:city', '')}".strip()
                line = f"{tags['addr:street']} {tags['addr:housenumber']}"
                self.found.add(f"{line}, {place}" if place else line)

    handler = Addresses()
    handler.apply_file(str(shared_file(LI_PBF)))
    found = sorted(handler.found)
    step = max(1, len(found) // count)
    return found[::step][:count]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)
    return path


@pytest.fixture(scope="module")
def li_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [["id", "address"]]
    rows += [[str(n), address] for n, address in enumerate(li_addresses(200), 1)]
    rows.append([str(len(rows)), ""])  # an empty row: Failed, with its reason
    rows.append([str(len(rows)), "Xqzzyv Wqrst 99, Nowhere"])  # no match
    return write_csv(tmp_path_factory.mktemp("web-files") / "li-addresses.csv", rows)


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need_chromium()
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


class Page:
    """A fresh browser context (its own storage) on the page, collecting console errors."""

    def __init__(self, browser: Any, server: Server, **context: Any) -> None:
        self.downloads = Path(tempfile.mkdtemp(prefix="geobatch-web-"))
        self.context = browser.new_context(accept_downloads=True, **context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("dialog", lambda dialog: dialog.accept())
        self.server = server
        self.page.goto(server.base + "/")
        self.page.wait_for_selector("body[data-ready]")

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text}")

    def sign_in(self, secret: str) -> None:
        self.page.fill("#key-input", secret)
        self.page.click("#key-form button[type=submit]")

    def close(self) -> None:
        self.context.close()
        shutil.rmtree(self.downloads, ignore_errors=True)


@pytest.fixture
def page_of(browser: Any) -> Iterator[Any]:
    opened: list[Page] = []

    def open_page(server: Server, **context: Any) -> Page:
        page = Page(browser, server, **context)
        opened.append(page)
        return page

    yield open_page
    for page in opened:
        page.close()


def api(server: Server, secret: str, path: str, **kwargs: Any) -> httpx.Response:
    method = kwargs.pop("method", "GET")
    headers = {"X-Api-Key": secret}
    return httpx.request(
        method, f"{server.base}/api/web{path}", headers=headers, timeout=30, **kwargs
    )


def upload(page: Page, path: Path) -> None:
    page.page.set_input_files("#file-input", str(path))
    page.page.wait_for_selector("#inspection:not([hidden])")


def wait_completed(page: Page, name: str, timeout: float = 120.0) -> list[str]:
    """Watch a job's line until it is Completed; returns the progress texts seen on the way."""
    seen: list[str] = []
    job = page.page.locator(".job", has_text=name).first
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = job.locator(".job-counts").inner_text()
        if not seen or seen[-1] != counts:
            seen.append(counts)
        if job.locator(".job-status").inner_text() == "Completed":
            return seen
        time.sleep(0.1)
    raise AssertionError(f"job {name} did not complete; saw {seen}")


def until(page: Page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression until it is true. (Playwright's wait_for_function evaluates
    strings with eval, which the page's Content-Security-Policy rightly refuses.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.page.evaluate(expression):
            return
        time.sleep(0.05)
    raise AssertionError(f"still false after {timeout} s: {expression}")


# --- tests -----------------------------------------------------------------------------------


def test_a_wrong_key_is_refused(web_server: Server, page_of: Any) -> None:
    page = page_of(web_server)
    page.sign_in("0" * 64)
    error = page.page.locator("#key-error")
    error.wait_for()
    assert "refused" in error.inner_text() and "not valid" in error.inner_text()
    assert page.page.locator("#app").is_hidden()
    assert page.page.evaluate("sessionStorage.getItem('geobatch.key')") is None
    assert api(web_server, "0" * 64, "/jobs").status_code == 401
    assert api(web_server, "", "/jobs").json()["error"].startswith("an API key is required")


def test_upload_follow_map_table_and_download(
    web_server: Server, page_of: Any, li_csv: Path, li_index: Path, tmp_path: Path
) -> None:
    secret = web_server.keys["ada"]
    page = page_of(web_server, viewport={"width": 1400, "height": 900})
    page.sign_in(secret)
    page.page.wait_for_selector("#app:not([hidden])")
    # The key is kept for the tab, never put in the page's URL.
    assert page.page.evaluate("sessionStorage.getItem('geobatch.key')") == secret
    assert secret not in page.page.url

    upload(page, li_csv)
    facts = page.page.locator("#facts").inner_text()
    assert "CSV, comma separated" in facts and "address → query" in facts
    assert re.search(r"Kind\s+forward", facts)
    preview = page.page.locator("#preview tbody tr")
    assert preview.count() == 10
    first = li_csv.read_text().splitlines()[1].split(",", 1)[1].strip('"')
    assert preview.first.locator("td").nth(1).inner_text() == first
    page.page.fill("#description", "Liechtenstein sample")
    page.page.click("#start")

    seen = wait_completed(page, "Liechtenstein sample")
    assert seen[-1] == "202 of 202 rows (100 %)"
    jobs = api(web_server, secret, "/jobs").json()["jobs"]
    job = next(j for j in jobs if j["description"] == "Liechtenstein sample")
    assert job["total"] == 202 and job["failed"] >= 2

    page.page.locator(".job", has_text="Liechtenstein sample").get_by_role(
        "button", name="Open"
    ).click()
    count = page.page.locator("#map-count[data-drawn]")
    count.wait_for()
    page.page.wait_for_timeout(500)
    drawn = int(count.get_attribute("data-drawn") or 0)
    assert int(count.get_attribute("data-total") or 0) == job["succeeded"]
    assert drawn == job["succeeded"]  # fitted to the results: every point is in view
    in_clusters = sum(
        int(n)
        for n in page.page.eval_on_selector_all(
            ".gb-cluster", "nodes => nodes.map(n => n.dataset.count)"
        )
    )
    singles = page.page.locator("path.gb-point").count()
    assert in_clusters + singles == job["succeeded"]

    if os.environ.get("GEOBATCH_UPDATE_SCREENSHOT") == "1":
        # The whole job in view, with one point's popup open: the README's picture.
        page.page.locator("path.gb-point").first.click(force=True)
        page.page.locator(".leaflet-popup-content .popup").wait_for()
        page.page.wait_for_timeout(500)
        page.page.screenshot(path=str(SCREENSHOT))

    # The table: a row clicked shows its popup at the highlighted point.
    row = page.page.locator("#rows tbody tr").nth(3)
    query = row.locator("td").nth(1).inner_text()
    answer = row.locator("td").nth(2).inner_text()
    row.click()
    popup = page.page.locator(".leaflet-popup-content .popup")
    popup.wait_for()
    assert "Row 4" in popup.inner_text()
    assert query in popup.inner_text() and answer in popup.inner_text()
    assert page.page.locator("path.gb-highlight").count() == 1
    # Keyboard: focus another row and press Enter.
    other = page.page.locator("#rows tbody tr").nth(5)
    other.focus()
    page.page.keyboard.press("Enter")
    until(
        page, "document.querySelector('.leaflet-popup-content .popup h3').textContent === 'Row 6'"
    )

    # Filters: the rows without a result, with their reasons.
    page.page.click("#show-failed")
    until(page, f"document.querySelectorAll('#rows tbody tr').length === {job['failed']}")
    reasons = page.page.locator("#rows tbody tr td:nth-child(3)").all_inner_texts()
    assert "empty request: no address fields in this row" in reasons
    page.page.select_option("#status-filter", "all")
    page.page.check("input[name=confidence][value=High]")
    until(
        page,
        "[...document.querySelectorAll('#rows tbody tr td:nth-child(5)')]"
        ".every(td => td.textContent === 'High')",
    )
    page.page.select_option("#colour-by", "match")
    assert "Up hierarchy" in page.page.locator("#legend").inner_text()
    page.page.select_option("#colour-by", "confidence")

    # Downloads: the whole output is the CLI's, byte for byte.
    with page.page.expect_download() as info:
        page.page.click("button[data-download=output]")
    downloaded = tmp_path / "web-output.csv"
    info.value.save_as(downloaded)
    cli_output = tmp_path / "cli-output.csv"
    done = run_cli("geocode", str(li_csv), "-o", str(cli_output), "--index", str(li_index),
                   "--workers", "1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert downloaded.read_bytes() == cli_output.read_bytes()
    with page.page.expect_download() as info:
        page.page.click("button[data-download=geojson]")
    geojson = tmp_path / "web.geojson"
    info.value.save_as(geojson)
    assert geojson.read_text(encoding="utf-8").count('"type": "Feature"') == 202
    names = page.page.eval_on_selector_all(
        "#downloads button", "b => b.map(x => x.dataset.download)"
    )
    assert names == ["output", "succeeded", "failed", "geojson"]
    assert page.errors == []


def test_single_query_and_map_click_reverse(web_server: Server, page_of: Any) -> None:
    page = page_of(web_server, viewport={"width": 1200, "height": 800})
    page.sign_in(web_server.keys["ada"])
    page.page.wait_for_selector("#app:not([hidden])")
    page.page.fill("#single-query", "Städtle 1, Vaduz")
    page.page.press("#single-query", "Enter")
    page.page.wait_for_selector("#single-result strong")
    assert "Städtle 1, 9490 Vaduz" in page.page.locator("#single-result").inner_text()
    assert "Found" in page.page.locator(".leaflet-popup-content").inner_text()
    page.page.wait_for_timeout(400)  # the map has moved to the answer

    box = page.page.locator("#map").bounding_box()
    assert box is not None
    page.page.mouse.click(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 + 40)
    until(
        page, "document.querySelector('.leaflet-popup-content h3')?.textContent === 'Address here'"
    )
    popup = page.page.locator(".leaflet-popup-content").inner_text()
    assert "Vaduz" in popup and "Liechtenstein" in popup
    assert page.errors == []


def test_a_hostile_file_is_shown_as_text(web_server: Server, page_of: Any, tmp_path: Path) -> None:
    script = "<script>window.__pwned = 1</script>Städtle 1, Vaduz"
    image = '<img src=x onerror="window.__pwned = 2">Landstrasse 12, Triesen'
    attribute = '"onmouseover="window.__pwned=3" x="'
    # The file's name is text from the user too (no "/": it must be a file name).
    NAME = "<img src=x onerror=window.__pwned=4>.csv"
    path = write_csv(
        tmp_path / NAME,
        [["id", "address"], ["1", script], ["2", image], ["3", attribute]],
    )
    page = page_of(web_server, viewport={"width": 1400, "height": 900})
    page.sign_in(web_server.keys["bob"])
    page.page.wait_for_selector("#app:not([hidden])")
    scripts_before = page.page.locator("script").count()
    upload(page, path)
    cells = page.page.locator("#preview tbody td:nth-child(2)").all_inner_texts()
    assert cells == [script, image, attribute]
    assert NAME in page.page.locator("#facts").inner_text()
    page.page.click("#start")
    wait_completed(page, NAME)
    page.page.locator(".job", has_text=NAME).get_by_role("button", name="Open").click()
    page.page.wait_for_selector("#rows tbody tr")
    assert page.page.locator("#rows tbody td:nth-child(2)").all_inner_texts() == cells
    page.page.locator("#rows tbody tr").nth(0).click()
    popup = page.page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert script in popup.inner_text()
    page.page.hover("#rows tbody tr:nth-child(3)")
    assert page.page.locator("script").count() == scripts_before
    assert page.page.locator("#app img").count() == 0
    assert page.page.evaluate("window.__pwned") is None
    assert page.errors == []


def test_cancel_and_delete_from_the_page(web_server: Server, page_of: Any, tmp_path: Path) -> None:
    # Reverse rows with the index's slowest path are still quick: make the job long instead.
    rows = [["lat", "lon"]] + [[f"{47.05 + (n % 200) * 0.001:.4f}", "9.52"] for n in range(60_000)]
    path = write_csv(tmp_path / "many-points.csv", rows)
    page = page_of(web_server, viewport={"width": 1200, "height": 800})
    secret = web_server.keys["bob"]
    page.sign_in(secret)
    page.page.wait_for_selector("#app:not([hidden])")
    upload(page, path)
    assert re.search(r"Kind\s+reverse", page.page.locator("#facts").inner_text())
    page.page.click("#start")
    job = page.page.locator(".job", has_text="many-points.csv")
    job.get_by_role("button", name="Cancel").click()
    job.locator(".job-status", has_text="Aborted").wait_for()
    assert "cancelled by its owner" in job.inner_text()
    listed = api(web_server, secret, "/jobs").json()["jobs"]
    cancelled = next(j for j in listed if j["description"] == "many-points.csv")
    assert (cancelled["status"], cancelled["processed"]) == ("Aborted", 0)
    # It stays cancelled: the runner does not bring it back.
    time.sleep(2)
    again = api(web_server, secret, f"/jobs/{cancelled['id']}").json()
    assert again["status"] == "Aborted"
    job.get_by_role("button", name="Delete").click()
    job.wait_for(state="detached")
    assert api(web_server, secret, f"/jobs/{cancelled['id']}").status_code == 404


def test_another_keys_jobs_are_never_shown(web_server: Server, li_csv: Path) -> None:
    ada, bob = web_server.keys["ada"], web_server.keys["bob"]
    made = api(web_server, ada, "/jobs?codec=csv&input=forward&description=ada-only",
               method="POST", content=li_csv.read_bytes())  # fmt: skip
    assert made.status_code == 201, made.text
    job_id = made.json()["id"]
    assert all(j["id"] != job_id for j in api(web_server, bob, "/jobs").json()["jobs"])
    for method, path in (
        ("GET", f"/jobs/{job_id}"),
        ("GET", f"/jobs/{job_id}/results"),
        ("GET", f"/jobs/{job_id}/download/output"),
        ("POST", f"/jobs/{job_id}/cancel"),
        ("DELETE", f"/jobs/{job_id}"),
    ):
        assert api(web_server, bob, path, method=method).status_code == 404, path
    assert api(web_server, ada, f"/jobs/{job_id}").status_code == 200


def test_the_key_is_never_logged(web_server: Server) -> None:
    assert web_server.log is not None
    log = web_server.log.read_text(errors="replace")
    assert "/api/web/jobs" in log  # the access log is on, and saw the page's calls
    for secret in web_server.keys.values():
        assert secret not in log


def test_a_phone_gets_the_whole_page_without_sideways_scrolling(
    web_server: Server, page_of: Any
) -> None:
    page = page_of(
        web_server, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page.sign_in(web_server.keys["ada"])
    page.page.wait_for_selector("#app:not([hidden])")
    width = page.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    box = page.page.locator("#map").bounding_box()
    assert box is not None and box["width"] >= 380 and box["height"] >= 300
    # Every control has a name a screen reader can read out.
    unnamed = page.page.evaluate(
        """() => [...document.querySelectorAll('input, select, button')]
            .filter(el => el.offsetParent !== null)
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.textContent.trim())
            .map(el => el.id || el.outerHTML.slice(0, 60))"""
    )
    assert unnamed == []


def test_results_as_paged_geojson(web_server: Server, li_csv: Path) -> None:
    secret = web_server.keys["ada"]
    listed = api(web_server, secret, "/jobs").json()["jobs"]
    done = [j for j in listed if j["status"] == "Completed" and j["kind"] == "csv"]
    if not done:
        made = api(web_server, secret, "/jobs?codec=csv&input=forward",
                   method="POST", content=li_csv.read_bytes())  # fmt: skip
        job_id = made.json()["id"]
        for _ in range(600):
            if api(web_server, secret, f"/jobs/{job_id}").json()["status"] == "Completed":
                break
            time.sleep(0.2)
    else:
        job_id = done[0]["id"]
    page = api(web_server, secret, f"/jobs/{job_id}/results?offset=10&limit=5").json()
    assert page["type"] == "FeatureCollection" and page["total"] == 202
    assert [f["properties"]["seq"] for f in page["features"]] == [10, 11, 12, 13, 14]
    points = api(web_server, secret, f"/jobs/{job_id}/points?limit=50").json()
    assert len(points["seq"]) == 50 and points["next"] == points["seq"][-1]
    rest = api(web_server, secret, f"/jobs/{job_id}/points?after={points['next']}").json()
    job = api(web_server, secret, f"/jobs/{job_id}").json()
    assert len(points["seq"]) + len(rest["seq"]) == job["succeeded"]
    bad = api(web_server, secret, f"/jobs/{job_id}/results?confidence=Certain")
    assert bad.status_code == 400 and "High, Medium, Low" in bad.json()["error"]
    text = io.StringIO(api(web_server, secret, f"/jobs/{job_id}/download/failed").text)
    assert {row["status"] for row in csv.DictReader(text)} <= {"NoResult", "Failed"}
