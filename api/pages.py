"""The controllers' dashboard at `/`: the files in api/dashboard/, which read /v1 with the
token the controller signs in with. They are served with headers that let the page load
nothing from another server (so it works offline and leaks nothing) and run no inline
script. The one library, the charts' uPlot, is vendored in api/dashboard/vendor/ and
served from here like the page's own files."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from api.problems import not_found

FILES = Path(__file__).with_name("dashboard")
ASSETS = frozenset({"dashboard.js", "dashboard.css"})
VENDORED = frozenset({"uPlot.iife.min.js", "uPlot.min.css"})  # the chart library: dashboard/vendor/README.md
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def is_page(path: str) -> bool:
    """The dashboard's own paths: files only, they never touch the database."""
    return path == "/" or path.startswith("/dashboard/")


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(FILES / "index.html", headers=HEADERS)


async def asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise not_found(f"the dashboard has no file {name}")
    return web.FileResponse(FILES / name, headers=HEADERS)


async def vendored(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in VENDORED:
        raise not_found(f"the dashboard has no file vendor/{name}")
    return web.FileResponse(FILES / "vendor" / name, headers=HEADERS)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", index, name="dashboard")
    router.add_get("/dashboard/{name}", asset, name="dashboard-asset")
    router.add_get("/dashboard/vendor/{name}", vendored, name="dashboard-vendored")
