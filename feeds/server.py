"""HTTP serving of the output folder (twisted.web in a child process): ETag, Last-Modified, 304, gzip."""

# Why a child process: Twisted's reactor is one per process and cannot restart. `demo` crawls with Scrapy
# in-process (the reactor has stopped by the time the feeds are served), and pytest runs crawls in-process
# too, so FeedServer always serves from a child (`python -m feeds.twisted_site`) that exits when its parent
# goes away (its stdin closes) or on SIGINT/SIGTERM. feeds.twisted_site holds the twisted.web resources,
# feeds.headers what they answer (content types, max-age, gzip): twisted_site never imports this module back.

from __future__ import annotations

import logging
import os
import select
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["FeedServer", "serve"]

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0  # seconds the child server may take to start listening


def serve(directory: str | os.PathLike, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve ``directory`` in this process until SIGINT/SIGTERM. It runs Twisted's reactor, so never after a
    crawl in the same process: use FeedServer there."""
    from feeds.twisted_site import serve as serve_here

    serve_here(directory, host, port)


class FeedServer:
    """The feed server in a child process: ``with FeedServer(dir, port=0) as s: get(s.url)``."""

    def __init__(self, directory: str | os.PathLike, host: str = "127.0.0.1", port: int = 0) -> None:
        self.directory = Path(directory).resolve()
        self.host = host
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> FeedServer:
        """Start the child and wait until it listens; OSError (one line) when it cannot."""
        if self._process is not None:
            return self
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        command = [sys.executable, "-m", "feeds.twisted_site", str(self.directory), "--host", self.host,
                   "--port", str(self.port), "--watch-stdin"]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        line = self._first_line(process)
        if not line.startswith("listening "):
            self._end(process)
            raise OSError(line.removeprefix("error ") or f"feed server exited with code {process.returncode}")
        self._process = process
        self.port = int(line.split()[1])
        logger.debug("serving %s at %s (pid %d)", self.directory, self.url, process.pid)
        return self

    @staticmethod
    def _first_line(process: subprocess.Popen[bytes]) -> str:
        stdout = process.stdout
        assert stdout is not None  # Popen(stdout=PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        buffer = b""
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([stdout], [], [], remaining)[0]:
                return "error feed server did not start in time"
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
        return buffer.decode("utf-8", "replace").strip()

    @staticmethod
    def _end(process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None  # Popen(stdin=PIPE, stdout=PIPE)
        try:
            process.stdin.close()  # the child stops its reactor when stdin closes
        except OSError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()

    def stop(self) -> None:
        if self._process is not None:
            self._end(self._process)
            self._process = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

