"""A local HTTP server for the sample site, with validators, 304s and injectable faults."""

from __future__ import annotations

import argparse
import logging
import socket
import struct
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from crawler.demo.site import SampleSite, generate

logger = logging.getLogger(__name__)

__all__ = ["FAULT_KINDS", "SampleSiteServer", "main"]

FAULT_KINDS = ("status", "slow", "redirect", "reset", "body")


@dataclass
class _Fault:
    kind: str
    remaining: int | None
    status: int
    delay: float
    location: str | None
    body: bytes = b""
    headers: dict | None = None
    declared_length: int | None = None  # a Content-Length above len(body): the answer is cut short


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LimitedTimesDemo/1.0"
    server: _Server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        owner = self.server.owner
        if owner.delay:
            time.sleep(owner.delay)
        fault = owner._take_fault(urlsplit(self.path).path)
        if fault is not None:
            if fault.kind == "reset":
                owner._record(self.command, self.path, 0)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "redirect":
                self._send(301, {"Location": fault.location or "/"}, b"", head)
                return
            elif fault.kind == "body":
                self._send_raw(fault, head)
                return
            elif fault.kind == "status":
                phrase = HTTPStatus(fault.status).phrase if fault.status in HTTPStatus._value2member_map_ else "Error"
                body = f"<!DOCTYPE html><title>{fault.status} {phrase}</title><h1>{phrase}</h1>\n".encode()
                self._send(fault.status, {"Content-Type": "text/html; charset=utf-8"}, body, head)
                return
        status, headers, body = owner.site.render(self.path, owner.base)
        if status == 200 and self._not_modified(headers):
            headers = {k: v for k, v in headers.items() if k in ("ETag", "Last-Modified")}
            self._send(304, headers, b"", head=True)
            return
        self._send(status, headers, body, head)

    def _not_modified(self, headers: dict[str, str]) -> bool:
        etag = headers.get("ETag")
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
            return etag is not None and ("*" in tags or etag in tags)
        since = self.headers.get("If-Modified-Since")
        if since and headers.get("Last-Modified"):
            try:
                return parsedate_to_datetime(headers["Last-Modified"]) <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
        return False

    def _send(self, status: int, headers: dict[str, str], body: bytes, head: bool) -> None:
        self.server.owner._record(self.command, self.path, status)
        self.send_response(status)
        headers = dict(headers)
        if status != 304:
            headers["Content-Length"] = str(len(body))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)


    def _send_raw(self, fault: _Fault, head: bool) -> None:
        """Any bytes with any headers: huge pages, PDFs, gzip bombs, empty or truncated bodies."""
        self.server.owner._record(self.command, self.path, fault.status)
        self.send_response(fault.status)
        self.send_header("Content-Length", str(fault.declared_length if fault.declared_length is not None else len(fault.body)))
        for name, value in (fault.headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(fault.body)
        if fault.declared_length is not None:
            self.wfile.flush()
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: SampleSiteServer

    def handle_error(self, request, client_address) -> None:
        # A client that gives up (timeouts, resets) is normal here: no traceback on stderr.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class SampleSiteServer:
    """Serves a SampleSite on a background thread; `fault()` makes chosen paths misbehave."""

    def __init__(self, site: SampleSite | None = None, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0):
        self.site = site if site is not None else generate()
        self.host = host
        self.port = port
        self.delay = delay
        self.url = ""
        self.base = ""
        self.requests: list[tuple[str, str, int]] = []
        self._faults: dict[str, _Fault] = {}
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SampleSiteServer:
        if self._httpd is not None:
            return self
        self._httpd = _Server((self.host, self.port), _Handler)
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self.base = f"http://{self.host}:{self.port}"
        self.url = self.base + "/"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sample-site:{self.port}", daemon=True
        )
        self._thread.start()
        logger.info("sample site serving at %s", self.url)
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SampleSiteServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def fault(
        self,
        path: str,
        kind: str,
        *,
        times: int | None = None,
        status: int = 500,
        delay: float = 1.0,
        location: str | None = None,
        body: bytes = b"",
        headers: dict | None = None,
        declared_length: int | None = None,
    ) -> None:
        """Make requests for `path` (query ignored) misbehave: always, or only the first `times`.

        kind "body" answers `status` (use 200) with `body` and `headers` as given; a
        `declared_length` above len(body) announces more than is sent, then closes.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {kind!r}")
        if kind == "redirect" and not location:
            raise ValueError("a redirect fault needs a location")
        with self._lock:
            self._faults[urlsplit(path).path] = _Fault(kind, times, status, delay, location, body, headers, declared_length)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            fault = self._faults.get(path)
            if fault is None:
                return None
            if fault.remaining is not None:
                if fault.remaining <= 0:
                    del self._faults[path]
                    return None
                fault.remaining -= 1
            return fault

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.demo.server", description="Serve the sample aggregator site.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args(argv)
    server = SampleSiteServer(generate(args.seed), host=args.host, port=args.port).start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
