"""The web page and its assets, served from the installed package at ``/`` and ``/static/``.

Every response carries a Content-Security-Policy that allows only this server's own scripts,
styles and connections (plus the optional tile server's images): even a text that slipped past
the page's escaping could not run a script. The assets are listed once at startup, so no path
from a request ever reaches the file system.
"""

from __future__ import annotations

import mimetypes
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from geobatch.config import Settings
from geobatch.errors import GeobatchError

STATIC = Path(str(resources.files("geobatch.web") / "static"))
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


class AssetMissing(GeobatchError):
    """The package was installed without its web assets."""


def _assets() -> dict[str, Path]:
    if not STATIC.is_dir():
        return {}
    return {
        path.relative_to(STATIC).as_posix(): path
        for path in sorted(STATIC.rglob("*"))
        if path.is_file()
    }


def tile_origin(url: str | None) -> str:
    """The scheme and host of a tile URL template, for the policy ('' when there is none)."""
    if not url:
        return ""
    parts = urlsplit(url.replace("{s}", "a"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    # A {s} subdomain template stands for several hosts: allow them all.
    host = parts.netloc.replace("a.", "*.", 1) if "{s}" in url else parts.netloc
    return f"{parts.scheme}://{host}"


def content_security_policy(settings: Settings) -> str:
    tiles = tile_origin(settings.web_tile_url)
    images = "'self' data: blob:" + (f" {tiles}" if tiles else "")
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            "font-src 'self'",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def _headers(settings: Settings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        # Assets change with the installed version; "no-cache" revalidates instead of serving
        # yesterday's script against today's API.
        "Cache-Control": "no-cache",
    }


def make_router() -> APIRouter:
    assets = _assets()
    router = APIRouter(include_in_schema=False)

    def serve(request: Request, name: str) -> Response:
        path = assets.get(name)
        settings: Settings = request.app.state.settings
        if path is None:
            return Response("not found", 404, media_type="text/plain", headers=_headers(settings))
        media = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain"
        return Response(path.read_bytes(), media_type=media, headers=_headers(settings))

    @router.get("/")
    def page(request: Request) -> Response:
        if "index.html" not in assets:
            raise AssetMissing("the web page is not installed with this copy of geobatch")
        return serve(request, "index.html")

    @router.get("/static/{name:path}")
    def static(request: Request, name: str) -> Response:
        return serve(request, name)

    return router
