"""HTTP serving of the output folder with ETag, Last-Modified, 304 and gzip."""

from __future__ import annotations

import gzip
import logging
import mimetypes
import os
import threading
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["CONTENT_TYPES", "FeedServer", "serve"]

logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
MAX_AGE = 300
_GZIP_MIN_SIZE = 256
_GZIP_CACHE_SIZE = 64


class _Handler(BaseHTTPRequestHandler):
    server: "_FeedHTTPServer"
    server_version = "refeed"
    sys_version = ""

    def do_GET(self) -> None:
        self._respond(body=True)

    def do_HEAD(self) -> None:
        self._respond(body=False)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s %s", self.address_string(), format % args)

    def _file(self) -> Path | None:
        path = unquote(urlsplit(self.path).path)
        if path == "/":
            path = "/index.html"
        name = path[1:]
        if (
            not path.startswith("/")
            or not name
            or "/" in name
            or "\\" in name
            or "\x00" in name
            or name.startswith(".")
        ):
            return None
        root = self.server.directory
        candidate = root / name
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if resolved.parent != root or not resolved.is_file():
            return None
        return resolved

    def _accepts_gzip(self) -> bool:
        for part in self.headers.get("Accept-Encoding", "").split(","):
            token, _, params = part.strip().partition(";")
            if token.strip().lower() not in ("gzip", "x-gzip", "*"):
                continue
            q = params.strip().lower().replace(" ", "")
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
        return False

    def _not_modified(self, etag: str, mtime: int) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = [t.strip() for t in if_none_match.split(",")]
            return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since:
            try:
                since = parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError, IndexError):
                return False
            if since is None:
                return False
            return int(since.timestamp()) >= mtime
        return False

    def _respond(self, body: bool) -> None:
        path = self._file()
        if path is None:
            self.send_error(HTTPStatus.NOT_FOUND, "Not Found")
            return
        try:
            stat = path.stat()
            data = path.read_bytes()
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "Not Found")
            return
        etag_base = f"{stat.st_size:x}-{stat.st_mtime_ns:x}"
        use_gzip = self._accepts_gzip() and len(data) >= _GZIP_MIN_SIZE
        etag = f'"{etag_base}-gzip"' if use_gzip else f'"{etag_base}"'
        mtime = int(stat.st_mtime)
        content_type = CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None:
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"

        if self._not_modified(etag, mtime):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self._validators(etag, mtime)
            self.end_headers()
            return

        if use_gzip:
            data = self.server.gzipped(path, stat.st_size, stat.st_mtime_ns, data)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if use_gzip:
            self.send_header("Content-Encoding", "gzip")
        self._validators(etag, mtime)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _validators(self, etag: str, mtime: int) -> None:
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(mtime, usegmt=True))
        self.send_header("Cache-Control", f"public, max-age={MAX_AGE}")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("X-Content-Type-Options", "nosniff")


class _FeedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], directory: Path) -> None:
        self.directory = directory
        self._gzip_cache: dict[tuple[Path, int, int], bytes] = {}
        self._gzip_lock = threading.Lock()
        super().__init__(address, _Handler)

    def gzipped(self, path: Path, size: int, mtime_ns: int, data: bytes) -> bytes:
        key = (path, size, mtime_ns)
        with self._gzip_lock:
            cached = self._gzip_cache.get(key)
        if cached is not None:
            return cached
        compressed = gzip.compress(data, compresslevel=6, mtime=0)
        with self._gzip_lock:
            if len(self._gzip_cache) >= _GZIP_CACHE_SIZE:
                self._gzip_cache.clear()
            self._gzip_cache[key] = compressed
        return compressed


def serve(directory: str | os.PathLike, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    """A (not yet started) HTTP server for the feed files in ``directory``; call serve_forever()."""
    root = Path(directory).resolve()
    return _FeedHTTPServer((host, port), root)


class FeedServer:
    """``serve`` in a background thread: ``with FeedServer(dir, port=0) as s: get(s.url)``."""

    def __init__(self, directory: str | os.PathLike, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = serve(directory, host, port)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self.httpd.server_address[0]

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def start(self) -> "FeedServer":
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="refeed-feed-server",
                daemon=True,
            )
            self._thread.start()
            logger.info("serving %s at %s", self.httpd.directory, self.url)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> "FeedServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
