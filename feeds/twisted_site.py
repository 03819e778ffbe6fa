"""twisted.web resources serving the output folder; imported only by the serving process (see feeds.server)."""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, cast

from twisted.web import http, pages, resource, server, static

from feeds.headers import CONTENT_TYPES, MAX_AGE, accepts_gzip

__all__ = ["main", "serve", "site"]

logger = logging.getLogger("feeds.server")

GZIP_LEVEL = 6
GZIP_MIN_SIZE = 256  # smaller files are sent as they are
GZIP_CACHE_SIZE = 64  # compressed files kept, keyed by path, size and mtime

NOT_FOUND = pages.notFound("Not Found", "No such feed file here.")


def _wants_gzip(request) -> bool:
    return accepts_gzip(",".join(h.decode("latin-1") for h in request.requestHeaders.getRawHeaders(b"accept-encoding", [])))


class _FeedFile(static.File):
    """One file of the folder: static.File (Last-Modified, If-Modified-Since, HEAD, ranges) plus a strong ETag
    and a gzip variant compressed once per file version (twisted.web's GzipEncoderFactory compresses on every
    request, four times slower on a 300 KB feed).

    The ETag names the representation: size and mtime of the file, and ``-gzip`` for the compressed one.
    """

    contentTypes = {**static.File.contentTypes, **CONTENT_TYPES}
    gzip_cache: dict[tuple[str, int, int], bytes] = {}

    def getChild(self, path, request):
        return NOT_FOUND

    def render_GET(self, request):
        try:
            stat = os.stat(self.path)
        except OSError:
            return NOT_FOUND.render(request)
        gz = stat.st_size >= GZIP_MIN_SIZE and _wants_gzip(request)
        etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}{"-gzip" if gz else ""}"'.encode()
        request.setHeader(b"cache-control", f"public, max-age={MAX_AGE}".encode())
        request.setHeader(b"vary", b"Accept-Encoding")
        request.setHeader(b"x-content-type-options", b"nosniff")
        headers = request.requestHeaders
        if_none_match = headers.getRawHeaders(b"if-none-match")
        if if_none_match:
            # RFC 9110 13.1.2: weak comparison, a comma-separated list; twisted.web splits on spaces only.
            tags = [t.strip().removeprefix(b"W/") for value in if_none_match for t in value.split(b",")]
            headers.setRawHeaders(b"if-none-match", [b" ".join(t for t in tags if t)])
            headers.removeHeader(b"if-modified-since")  # RFC 9110 13.2.2: If-None-Match takes precedence
        if request.setLastModified(stat.st_mtime) is http.CACHED or request.setETag(etag) is http.CACHED:
            # Finished here: returning b"" would make twisted.web add "Content-Length: 0", which a 304 must not
            # carry (RFC 9110 8.6: it would announce the size of the 200's body, not of nothing).
            request.finish()
            return server.NOT_DONE_YET
        if not gz:
            return super().render_GET(request)
        try:
            body = self._gzipped(stat)
        except OSError:
            return NOT_FOUND.render(request)
        content_type, _ = static.getTypeAndEncoding(self.basename(), self.contentTypes, {}, self.defaultType)
        request.setHeader(b"content-type", content_type.encode())
        request.setHeader(b"content-encoding", b"gzip")
        request.setHeader(b"content-length", str(len(body)).encode())
        return b"" if request.method == b"HEAD" else body

    def _gzipped(self, stat: os.stat_result) -> bytes:
        key = (self.path, stat.st_size, stat.st_mtime_ns)
        body = self.gzip_cache.get(key)
        if body is None:
            with open(self.path, "rb") as handle:
                body = gzip.compress(handle.read(), compresslevel=GZIP_LEVEL, mtime=0)
            if len(self.gzip_cache) >= GZIP_CACHE_SIZE:
                self.gzip_cache.clear()
            self.gzip_cache[key] = body
        return body

    render_HEAD = render_GET


class _Folder(resource.Resource):
    """The output folder, one level deep: no subfolders, no dot files, no symlink out, ``/`` is index.html."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory.resolve()

    def getChild(self, path: bytes, request):
        found = self._file(path or b"index.html")
        if found is None:
            return NOT_FOUND
        return _FeedFile(str(found))

    def render_GET(self, request):  # only reached for an empty path, which twisted.web does not send
        return NOT_FOUND.render(request)

    def _file(self, segment: bytes) -> Path | None:
        try:
            name = segment.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if not name or name.startswith(".") or any(ch in name for ch in "/\\\x00"):
            return None
        try:
            resolved = (self.directory / name).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if resolved.parent != self.directory or not resolved.is_file():
            return None
        return resolved


class _Site(server.Site):
    """A Site without an access log (readers poll often; errors are still logged)."""

    def log(self, request) -> None:
        pass


def site(directory: str | os.PathLike) -> server.Site:
    """The twisted.web Site serving ``directory`` (creating it needs Twisted's reactor module)."""
    return _Site(_Folder(Path(directory)))


def serve(directory: str | os.PathLike, host: str = "127.0.0.1", port: int = 8080, *, announce=None, signals: bool = True) -> None:
    """Serve ``directory`` in this process until SIGINT/SIGTERM (or, without ``signals``, until something else
    stops the reactor). Uses Twisted's reactor, so never after a crawl in the same process; ``announce(port)`` is
    called once listening."""
    from twisted.internet import reactor as installed

    reactor: Any = installed  # twisted.internet.reactor is typed as a module, not as the reactor it becomes
    listening = reactor.listenTCP(port, site(directory), interface=host)
    logger.info("serving %s at http://%s:%d/", directory, host, listening.getHost().port)
    if announce is not None:
        announce(listening.getHost().port)
    reactor.run(installSignalHandlers=signals)


class _ParentWatch:
    """Stops the reactor when stdin closes: the parent process stopped or died."""

    def makeConnection(self, transport) -> None:
        pass

    def dataReceived(self, data: bytes) -> None:
        pass

    def connectionLost(self, reason=None) -> None:
        from twisted.internet import reactor as installed

        reactor: Any = installed
        if reactor.running:
            reactor.stop()


def main(argv=None) -> int:
    """``python -m feeds.twisted_site DIR [--host H] [--port P]``: prints ``listening PORT`` (or ``error …``) on stdout."""
    parser = argparse.ArgumentParser(prog="python -m feeds.twisted_site", description="serve a refeed output folder")
    parser.add_argument("directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--watch-stdin", action="store_true", help="exit when stdin closes (used by FeedServer)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from twisted.internet import error
    from twisted.logger import ILogObserver, STDLibLogObserver, globalLogBeginner

    globalLogBeginner.beginLoggingTo([cast(ILogObserver, STDLibLogObserver(name="feeds.server"))], redirectStandardIO=False)

    def announce(port: int) -> None:
        print(f"listening {port}", flush=True)
        if args.watch_stdin:
            from twisted.internet import stdio

            standard_io: Any = stdio.StandardIO  # typed from its Windows variant, which has no stdout argument
            standard_io(_ParentWatch(), stdout=os.open(os.devnull, os.O_WRONLY))

    if args.watch_stdin:  # the parent ends it by closing stdin; a Ctrl-C reaches the parent too, which does so
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        serve(args.directory, args.host, args.port, announce=announce, signals=not args.watch_stdin)
    except error.CannotListenError as exc:
        print(f"error cannot listen on {args.host}:{args.port}: {exc.socketError}", flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
