"""The web page's static router and basemap: the security headers, assets listed once (no path
from a request reaches the disk), and the basemap's areas, streets and level of detail."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import shapely
from fastapi import FastAPI

from geobatch.config import Settings
from geobatch.web.basemap import Basemap, IndexGeometry
from geobatch.web.page import content_security_policy, make_router, tile_origin


class _Client:
    """Requests to the page router, in process (httpx over ASGI)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def get(self, url: str) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                return await client.get(url)

        return asyncio.run(send())


def _client(tmp_path: Path) -> _Client:
    app = FastAPI()
    app.state.settings = Settings(index_dir=tmp_path, workers=1, data_dir=tmp_path)
    app.include_router(make_router())
    return _Client(app)


def test_the_page_and_its_assets_carry_a_content_security_policy(tmp_path: Path) -> None:
    client = _client(tmp_path)
    for path in ("/", "/static/app.js", "/static/vendor/leaflet/leaflet.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/").headers["content-type"].startswith("text/html")
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")


def test_only_listed_assets_are_served(tmp_path: Path) -> None:
    client = _client(tmp_path)
    for path in ("/static/../page.py", "/static/%2e%2e/page.py", "/static/nothing.js"):
        assert client.get(path).status_code == 404, path


def test_the_vendored_libraries_ship_with_their_licences() -> None:
    vendor = Path(__file__).parents[2] / "src" / "geobatch" / "web" / "static" / "vendor"
    for name in ("leaflet/LICENSE", "supercluster/LICENSE", "supercluster/LICENSE-kdbush"):
        assert (vendor / name).read_text().strip(), name


def test_a_tile_server_is_allowed_for_images_only(tmp_path: Path) -> None:
    url = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    assert tile_origin(url) == "https://*.tiles.example.org"
    assert tile_origin("javascript:alert(1)") == ""
    settings = Settings(index_dir=tmp_path, workers=1, web_tile_url=url)
    policy = content_security_policy(settings)
    assert "img-src 'self' data: blob: https://*.tiles.example.org" in policy
    assert "connect-src 'self';" in policy


def _geometry(tmp: Path) -> IndexGeometry:
    square = shapely.Polygon(
        [(9.0 + 0.001 * i, 47.0) for i in range(1000)] + [(10, 47), (10, 48), (9, 48)]
    )
    far = shapely.box(100, 10, 101, 11)
    streets = [
        (f"Street {i}", shapely.to_wkb(shapely.LineString([(9.5, 47.5 + i * 1e-4), (9.51, 47.5)])))
        for i in range(10)
    ]
    return IndexGeometry.of(
        areas=[("Square", 2, shapely.to_wkb(square)), ("Far", 8, shapely.to_wkb(far))],
        streets=[*streets, ("Broken", b"not wkb")],
    )


def test_basemap_areas_in_view_and_streets_only_when_zoomed_in(tmp_path: Path) -> None:
    basemap = Basemap(tmp_path, read=_geometry)
    world = json.loads(basemap.view(-85, -180, 85, 180))
    assert {f["properties"]["name"] for f in world["features"]} == {"Square", "Far"}
    assert world["streets"] is False
    square = next(f for f in world["features"] if f["properties"]["name"] == "Square")
    assert len(square["geometry"]["coordinates"][0]) < 20  # simplified for a world view
    town = json.loads(basemap.view(47.45, 9.45, 47.55, 9.55))
    names = [f["properties"]["name"] for f in town["features"]]
    assert town["streets"] is True and names.count("Square") == 1 and "Far" not in names
    assert sum(name.startswith("Street") for name in names) == 10
    assert json.loads(basemap.view(-50, -50, -40, -40))["features"] == []
