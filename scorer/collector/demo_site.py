"""The demo site of `scorer dev`: a home page, pricing, a case study to download and a
contact form, each embedding the collector's tracker.js. Loopback only."""

from __future__ import annotations

import argparse
import asyncio
import html
import re
from importlib.resources import files

from aiohttp import web

_DEMO = files("scorer.collector").joinpath("demo")
_TITLE = re.compile(r"^<!-- title: (.*?) -->\n")
_CONSENT = "<!-- consent: required -->\n"
_TYPES = {".css": "text/css", ".pdf": "application/pdf"}


def render(page: str, collector_url: str) -> str:
    """A page of the demo inside the layout, pointing at the collector."""
    body = _DEMO.joinpath(page).read_text(encoding="utf-8")
    match = _TITLE.match(body)
    title = match[1] if match else "Demo"
    if match:
        body = body[len(match[0]) :]
    consent = ""
    if body.startswith(_CONSENT):  # the page's tracker waits for scorer('consent', true)
        body = body[len(_CONSENT) :]
        consent = ' data-consent="required"'
    layout = _DEMO.joinpath("_layout.html").read_text(encoding="utf-8")
    text = layout.replace("{{TITLE}}", html.escape(title)).replace("{{CONSENT}}", consent)
    text = text.replace("{{BODY}}", body)
    return text.replace("{{COLLECTOR}}", html.escape(collector_url.rstrip("/")))


def demo_app(collector_url: str) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        name = request.match_info.get("name") or "index.html"
        if name.endswith(".html") and name != "_layout.html" and _DEMO.joinpath(name).is_file():
            return web.Response(text=render(name, collector_url), content_type="text/html")
        suffix = name[name.rfind(".") :] if "." in name else ""
        if suffix in _TYPES and _DEMO.joinpath(name).is_file():
            return web.Response(body=_DEMO.joinpath(name).read_bytes(), content_type=_TYPES[suffix])
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get(r"/{name:[a-z0-9_-]+\.[a-z]+}", page)
    return app


async def serve_demo(collector_url: str, port: int, stop: asyncio.Event) -> None:
    runner = web.AppRunner(demo_app(collector_url), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the collector's demo site on loopback.")
    parser.add_argument("--collector", required=True, help="Base URL of the collector.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(demo_app(args.collector), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
