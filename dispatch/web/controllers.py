"""HTTP edge of the pages: page shells rendered on the server, data fetched by the page
scripts from the same JSON API (with the user's token), static files and the service worker.

Pages need no login to load (a tablet must open them offline from its cache); every piece
of data behind them goes through the API, which checks role and scope as for any client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from litestar import Controller, Request, get
from litestar.datastructures import Cookie
from litestar.response import File, Redirect, Template
from litestar.router import Router
from litestar.static_files import create_static_files_router

from dispatch.web.i18n import COOKIE, language_of, messages_for, translator

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES = WEB_DIR / "templates"
STATIC = WEB_DIR / "static"
# path -> template: every page is a shell whose script fetches the data
PAGES = {
    "/": "home",
    "/login": "login",
    "/squad": "squad",  # the street squad's tablet app (works offline)
    "/command": "command",  # the district command center's wall screen
    "/drill": "drill",  # choose and play drills; the other pages then work inside one
    "/admin": "admin",  # a commander's users, standards, units, coordinates, spreadsheets
    "/print/run": "runsheet",  # a delivery run's sheet and delivery notes (?task=), to print
    "/print/labels": "labels",  # a depot's lot labels with QR codes (?depot=), to print
    "/print/card": "card",  # an item's stock card (台账) at a depot (?depot=&item=), to print
    "/about": "about",
}
# paths the token middleware lets through: the shells, their files and the worker
PAGE_PATHS = [f"^{path}$" for path in PAGES] + ["^/static/", "^/sw.js$", "^/favicon.ico$"]


def leaflet_dir() -> Path:
    """Leaflet comes from the xstatic-leaflet package: no CDN, no tile server."""
    import xstatic.pkg.leaflet as leaflet

    return Path(leaflet.BASE_DIR)


def render(
    request: Request[Any, Any, Any],
    page: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    """A page shell in the visitor's language, with the message table for its scripts."""
    language = language_of(request.query_params.get("lang"), request.cookies.get(COOKIE))
    messages = messages_for(language)
    cookies = []
    if request.query_params.get("lang") == language:
        cookies.append(Cookie(key=COOKIE, value=language, max_age=365 * 86400, samesite="lax"))
    return Template(
        template_name=f"{page}.html",
        context={
            "page": page,
            "lang": language,
            "html_lang": "zh-CN" if language == "zh" else "en",
            "other_lang": "en" if language == "zh" else "zh",
            "t": translator(messages),
            # inside <script>: "</" would end the element early
            "messages_json": json.dumps(messages, ensure_ascii=False).replace("</", "<\\/"),
            **context,
        },
        cookies=cookies,
        status_code=status_code,
        headers=headers,
    )


class PagesController(Controller):
    path = "/"
    include_in_schema = False

    @get(list(PAGES), exclude_from_auth=True)
    async def page(self, request: Request[Any, Any, Any]) -> Template:
        return render(request, PAGES[request.scope["path"]])

    @get("/favicon.ico", exclude_from_auth=True)
    async def favicon(self) -> Redirect:
        return Redirect("/static/favicon.svg")

    @get("/sw.js", exclude_from_auth=True)
    async def service_worker(self) -> File:
        """Served from the root so its scope covers every page."""
        return File(
            STATIC / "js" / "sw.js",
            content_disposition_type="inline",
            media_type="text/javascript",
            headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache"},
        )


def static_routers() -> list[Router]:
    return [
        create_static_files_router(
            path="/static/leaflet", directories=[leaflet_dir()], include_in_schema=False
        ),
        create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
    ]
