"""Tests of feeds.server: validators, 304, gzip, and no way out of the output folder."""

import gzip
import http.client
import os
import signal
import subprocess
import sys
from email.utils import formatdate

import pytest
from conftest import ROOT

from feeds.headers import accepts_gzip
from feeds.server import FeedServer

ATOM = b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">' + (
    b"<entry><title>x</title></entry>" * 40
) + b"</feed>\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server (a child process) for the module; the tests only read."""
    tmp_path = tmp_path_factory.mktemp("serve")
    public = tmp_path / "public"
    public.mkdir()
    (public / "all.atom").write_bytes(ATOM)
    (public / "all.rss").write_bytes(b"<rss version='2.0'/>")
    (public / "all.json").write_bytes(b'{"version": "https://jsonfeed.org/version/1.1"}')
    (public / "feeds.opml").write_bytes(b"<opml version='2.0'/>")
    (public / "index.html").write_bytes(b"<!DOCTYPE html><title>refeed</title>")
    (public / ".all.atom.tmp").write_bytes(b"partial")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    (public / "sub").mkdir()
    (public / "sub" / "x.atom").write_bytes(b"nested")
    os.symlink(tmp_path / "secret.txt", public / "link.txt")
    with FeedServer(public) as running:
        yield running


def request(server, path, method="GET", headers=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def test_serves_file_with_validators_and_type(server):
    response, body = request(server, "/all.atom")
    assert response.status == 200 and body == ATOM
    assert response.getheader("Content-Type") == "application/atom+xml; charset=utf-8"
    assert response.getheader("ETag").startswith('"') and response.getheader("ETag").endswith('"')
    assert response.getheader("Last-Modified").endswith("GMT")
    assert "max-age=300" in response.getheader("Cache-Control")
    assert response.getheader("Content-Length") == str(len(ATOM))
    assert server.url == f"http://127.0.0.1:{server.port}/"


@pytest.mark.parametrize(
    "path, content_type",
    [
        ("/all.rss", "application/rss+xml; charset=utf-8"),
        ("/all.json", "application/feed+json; charset=utf-8"),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/all.atom?utm=1", "application/atom+xml; charset=utf-8"),
    ],
)
def test_content_types(server, path, content_type):
    response, _ = request(server, path)
    assert response.status == 200
    assert response.getheader("Content-Type") == content_type


def test_if_none_match_gives_304(server):
    first, _ = request(server, "/all.atom")
    etag = first.getheader("ETag")
    response, body = request(server, "/all.atom", headers={"If-None-Match": etag})
    assert response.status == 304 and body == b""
    assert response.getheader("ETag") == etag
    response, _ = request(server, "/all.atom", headers={"If-None-Match": f'"other", W/{etag}'})
    assert response.status == 304
    response, _ = request(server, "/all.atom", headers={"If-None-Match": '"stale"'})
    assert response.status == 200


def test_if_modified_since_gives_304(server):
    first, _ = request(server, "/all.atom")
    last_modified = first.getheader("Last-Modified")
    response, body = request(server, "/all.atom", headers={"If-Modified-Since": last_modified})
    assert response.status == 304 and body == b""
    earlier = formatdate(0, usegmt=True)
    response, _ = request(server, "/all.atom", headers={"If-Modified-Since": earlier})
    assert response.status == 200
    response, _ = request(server, "/all.atom", headers={"If-Modified-Since": "garbage"})
    assert response.status == 200


def test_gzip_variant_decompresses_to_the_file(server):
    plain, _ = request(server, "/all.atom")
    response, body = request(server, "/all.atom", headers={"Accept-Encoding": "br, gzip"})
    assert response.status == 200
    assert response.getheader("Content-Encoding") == "gzip"
    assert response.getheader("Vary") == "Accept-Encoding"
    assert gzip.decompress(body) == ATOM
    etag = response.getheader("ETag")
    assert etag != plain.getheader("ETag") and etag.endswith('-gzip"')
    again, _ = request(
        server, "/all.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
    )
    assert again.status == 304
    refused, body = request(server, "/all.atom", headers={"Accept-Encoding": "gzip;q=0"})
    assert refused.getheader("Content-Encoding") is None and body == ATOM


def test_head_sends_headers_only(server):
    response, body = request(server, "/all.atom", method="HEAD")
    assert response.status == 200 and body == b""
    assert response.getheader("Content-Length") == str(len(ATOM))


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/../x",
        "/missing.atom",
        "/sub/x.atom",
        "/sub",
        "/.all.atom.tmp",
        "/link.txt",
        "//etc/passwd",
        "/%00",
    ],
)
def test_nothing_outside_the_folder_or_missing_is_served(server, path):
    response, body = request(server, path)
    assert response.status == 404
    assert b"secret" not in body and b"nested" not in body


def test_if_none_match_takes_precedence_over_if_modified_since(server):
    first, _ = request(server, "/all.atom")
    response, _ = request(
        server, "/all.atom", headers={"If-None-Match": '"stale"', "If-Modified-Since": first.getheader("Last-Modified")}
    )
    assert response.status == 200


def test_304_carries_the_validators(server):
    first, _ = request(server, "/all.atom")
    response, body = request(server, "/all.atom", headers={"If-None-Match": first.getheader("ETag")})
    assert response.status == 304 and body == b""
    assert response.getheader("Last-Modified") == first.getheader("Last-Modified")
    assert response.getheader("Content-Encoding") is None


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("accept_encoding", ["identity", "gzip"])
def test_304_carries_no_content_length(server, method, accept_encoding):
    first, _ = request(server, "/all.atom", headers={"Accept-Encoding": accept_encoding})
    for validator in ({"If-None-Match": first.getheader("ETag")}, {"If-Modified-Since": first.getheader("Last-Modified")}):
        response, body = request(server, "/all.atom", method, headers={"Accept-Encoding": accept_encoding, **validator})
        assert response.status == 304 and body == b""
        assert response.getheader("Content-Length") is None  # RFC 9110 8.6: none, or the body's the 200 would send
        assert response.getheader("Transfer-Encoding") is None


def test_changed_file_gets_a_new_etag(tmp_path):
    (tmp_path / "all.atom").write_bytes(ATOM)
    with FeedServer(tmp_path) as running:
        etag = request(running, "/all.atom")[0].getheader("ETag")
        (tmp_path / ".new").write_bytes(ATOM.replace(b"<title>x</title>", b"<title>y</title>", 1) + b" ")
        os.replace(tmp_path / ".new", tmp_path / "all.atom")
        response, body = request(running, "/all.atom", headers={"If-None-Match": etag})
        assert response.status == 200 and body.startswith(ATOM[:60]) and b"<title>y</title>" in body
        assert response.getheader("ETag") != etag


def test_missing_file_is_a_clear_404(server):
    response, body = request(server, "/nothing.rss")
    assert response.status == 404
    assert b"Not Found" in body


@pytest.mark.parametrize(
    "header, expected",
    [("gzip", True), ("br, gzip;q=0.5", True), ("x-gzip", True), ("*", True), ("gzip;q=0", False),
     ("identity", False), ("", False), ("gzip;q=bad", False), ("deflate, br", False)],
)
def test_accept_encoding_negotiation(header, expected):
    assert accepts_gzip(header) is expected


def test_port_in_use_is_one_clear_error(server, tmp_path):
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        FeedServer(tmp_path, port=server.port).start()


def test_serve_command_serves_the_output_folder_until_interrupted(tmp_path):
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "all.atom").write_bytes(ATOM)
    (tmp_path / "refeed.toml").write_text('[output]\ndir = "public"\n', encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scheduler.py"), "serve", "--port", "0"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.poll() is not None else url
        running = FeedServer(tmp_path)
        running.port = int(url.rstrip("/").rsplit(":", 1)[1])
        response, body = request(running, "/all.atom")
        assert response.status == 200 and body == ATOM
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        process.stdout.close()
        process.stderr.close()
    with pytest.raises(ConnectionRefusedError):
        request(running, "/all.atom")
