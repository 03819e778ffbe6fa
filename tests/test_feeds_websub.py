"""WebSub: the hub setting, pings after a build, and a hub that fails never failing the build."""

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from test_feeds_build import BASE, corpus

from crawler.config import ConfigError, parse_config
from feeds.build import build_feeds
from feeds.websub import ping_hub


class _Hub(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        form = parse_qs(body)
        self.server.pings.append(form)
        status = 500 if form["hub.url"][0].endswith(".rss") else 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    server.pings = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    thread.join()
    server.server_close()


def test_a_ping_per_changed_feed_and_a_refusing_hub_is_only_logged(hub, tmp_path, caplog):
    server, url = hub
    report = build_feeds(corpus(), tmp_path, BASE, websub_hub=url)
    written = sorted(name for name in report.written if name.endswith((".atom", ".rss", ".json")))
    assert sorted(p["hub.url"][0] for p in server.pings) == [BASE + name for name in written]
    assert all(p["hub.mode"] == ["publish"] for p in server.pings)
    assert sorted(report.pinged) == [BASE + name for name in written if not name.endswith(".rss")]
    assert "refused the ping" in caplog.text and "HTTP 500" in caplog.text


def test_unreachable_hub_does_not_fail_the_build(tmp_path, caplog):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    caplog.set_level(logging.WARNING)
    report = build_feeds(corpus(), tmp_path, BASE, websub_hub=f"http://127.0.0.1:{port}/")
    assert report.pinged == [] and (tmp_path / "all.atom").exists()
    assert caplog.text.count("not reached") == 1


def test_ping_hub_skips_duplicates(hub):
    server, url = hub
    assert ping_hub(url, [BASE + "a.atom", BASE + "a.atom"]) == [BASE + "a.atom"]
    assert len(server.pings) == 1


def test_websub_hub_setting_is_checked():
    assert parse_config({"output": {"websub_hub": "https://hub.example/"}}).output.websub_hub == "https://hub.example/"
    assert parse_config({}).output.websub_hub == ""
    with pytest.raises(ConfigError, match="output.websub_hub: 'ftp://x' is not an http"):
        parse_config({"output": {"websub_hub": "ftp://x"}})
