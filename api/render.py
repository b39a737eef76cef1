"""Turning results into responses: JSON, CSV on `Accept: text/csv`, and pages.

Lists answer `{count, next, previous, results}`; `next` and `previous` are full
URLs of the neighbouring pages (or null). The CSV of a list has the same rows as its
`results`, one column per member; nested values are written as JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from api.problems import bad_param

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def wants_csv(request: web.Request) -> bool:
    return "text/csv" in request.headers.get("Accept", "")


def csv_response(rows: list[Mapping[str, Any]], filename: str) -> web.Response:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: orjson.dumps(v).decode() if isinstance(v, (dict, list)) else v for k, v in row.items()}
            )
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def int_param(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_param(name, "must be a whole number", "integer") from None
    if not low <= value <= high:
        raise bad_param(name, f"must be between {low} and {high}", "range")
    return value


def page_params(request: web.Request) -> tuple[int, int]:
    """?page= (from 1) and ?pageSize=."""
    page = int_param(request, "page", 1, 1, 10**9) or 1
    size = int_param(request, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    return page, size


def paged(request: web.Request, results: list[dict[str, Any]], count: int, page: int, size: int) -> web.Response:
    """The ADR list shape: {count, next, previous, results}."""

    def link(n: int) -> str:
        return str(request.url.update_query(page=n, pageSize=size))

    return json_response(
        {
            "count": count,
            "next": link(page + 1) if page * size < count else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": results,
        }
    )


def page_of(request: web.Request, rows: list[dict[str, Any]], filename: str) -> web.Response:
    """One page of `rows` (?page=, ?pageSize=), or every row as CSV."""
    if wants_csv(request):
        return csv_response(rows, filename)
    page, size = page_params(request)
    start = (page - 1) * size
    return paged(request, rows[start : start + size], len(rows), page, size)
