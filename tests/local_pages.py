"""A tiny HTTP server on 127.0.0.1 for hand-written pages: any bytes, any headers, and a request log."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

PAGES = Path(__file__).resolve().parent / "data" / "pages"


class PageServer:
    """`pages` maps a path to (content_type, body bytes), `redirects` a path to the Location of a 302; a path in
    `trickle` answers 200 and then one byte a second, for as long as the client waits; anything else is a 404.
    A path in `held` is answered once its event is set (at most a minute later). With `etags`, a page carries an
    ETag and answers 304 to a request that names it. `requests` logs every path; `started` is set when a trickle began."""

    def __init__(self, pages: dict[str, tuple[str, bytes]] | None = None, redirects: dict[str, str] | None = None, trickle: set[str] = frozenset(),
                 held: dict[str, threading.Event] | None = None, etags: bool = False):
        self.pages = dict(pages or {})
        self.redirects = dict(redirects or {})
        self.trickle = set(trickle)
        self.held = dict(held or {})
        self.etags = etags
        self.started = threading.Event()
        self._stopping = threading.Event()
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - http.server's naming
                owner.requests.append(self.path)
                if self.path in owner.held:
                    owner.held[self.path].wait(60)
                if self.path in owner.trickle:
                    self._trickle()
                    return
                if self.path in owner.redirects:
                    self.send_response(302)
                    self.send_header("Location", owner.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                found = owner.pages.get(self.path) or owner.pages.get(urlsplit(self.path).path)
                status, (content_type, body) = (200, found) if found else (404, ("text/html; charset=utf-8", b"<h1>Not found</h1>"))
                etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"' if owner.etags and found else None
                if etag is not None and self.headers.get("If-None-Match") == etag:
                    status, body = 304, b""
                self.send_response(status)
                if etag is not None:
                    self.send_header("ETag", etag)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _trickle(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                self.wfile.write(b"<html><body><p>")
                self.wfile.flush()
                owner.started.set()
                while not owner._stopping.wait(1.0):
                    try:
                        self.wfile.write(b"a")
                        self.wfile.flush()
                    except OSError:  # the client gave up
                        return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        for event in self.held.values():
            event.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def page(name: str) -> bytes:
    """A hand-written fixture page from tests/data/pages/."""
    return (PAGES / name).read_bytes()

