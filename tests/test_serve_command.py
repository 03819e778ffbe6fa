"""The serving commands' front door: where they listen (--host, output.host), and each mistake in one line, exit 2."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

ATOM = b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>\n'
OTHER_LOOPBACK = "127.0.0.2"  # Linux answers on all of 127.0.0.0/8: an address that is not the default


def published(tmp_path: Path, output: str = "") -> Path:
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "all.atom").write_bytes(ATOM)
    (tmp_path / "refeed.toml").write_text(f'[output]\ndir = "public"\n{output}\n', encoding="utf-8")
    return tmp_path


def serving(args, cwd: Path, until: str, stream: str = "stdout"):
    """Start `scheduler.py ARGS`; the first line of `stream` containing `until`, and the process (killed after 120 s,
    which ends any read of its output: a test that waits for a line that never comes fails instead of hanging)."""
    process = subprocess.Popen([sys.executable, str(ROOT / "scheduler.py"), *args], cwd=cwd, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.watchdog = threading.Timer(120, process.kill)
    process.watchdog.start()
    for line in getattr(process, stream):
        if until in line:
            return line.strip(), process
    stop(process)
    raise AssertionError(f"no line with {until!r}: exit {process.returncode}, {process.stderr.read()[-3000:]}")


def stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    finally:
        process.watchdog.cancel()
        process.stdout.close()
        process.stderr.close()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read()


def assert_one_line(result, *words: str) -> str:
    assert result.code == 2, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    for word in words:
        assert word in lines[-1], lines[-1]
    return lines[-1]


@pytest.mark.parametrize("how", ["flag", "config", "flag-over-config"])
def test_serve_listens_where_it_is_told(tmp_path, how):
    output = f'host = "{"127.0.0.3" if how == "flag-over-config" else OTHER_LOOPBACK}"' if how != "flag" else ""
    args = ["serve", "--port", "0"] + (["--host", OTHER_LOOPBACK] if how != "config" else [])
    url, process = serving(args, published(tmp_path, output), until="http://")
    try:
        assert url.startswith(f"http://{OTHER_LOOPBACK}:"), url
        assert fetch(url + "all.atom") == ATOM
        with pytest.raises(OSError):  # and nowhere else: not on the default address
            socket.create_connection(("127.0.0.1", int(url.rstrip("/").rsplit(":", 1)[1])), timeout=2).close()
    finally:
        assert stop(process) == 0


def test_serve_listens_on_127_0_0_1_by_default(tmp_path):
    url, process = serving(["serve", "--port", "0"], published(tmp_path), until="http://")
    try:
        assert url.startswith("http://127.0.0.1:") and fetch(url + "all.atom") == ATOM
    finally:
        assert stop(process) == 0


def test_run_serve_listens_on_output_host(tmp_path):
    published(tmp_path, f'host = "{OTHER_LOOPBACK}"\n\n[[source]]\nname = "lt"\nspider = "generic"\n'
                        'start_urls = ["http://127.0.0.1:9/"]\nschedule = "every 1d"')
    line, process = serving(["run", "--serve", "0"], tmp_path, until="serving ", stream="stderr")
    try:
        url = line.rsplit(" at ", 1)[1]
        assert any("crawl lt: finished" in later for later in process.stderr)  # the daemon is up, its signal handlers too
        assert url.startswith(f"http://{OTHER_LOOPBACK}:"), line
        assert b"<feed " in fetch(url + "all.atom")  # the build after the crawl has replaced it: served from output.dir
    finally:
        assert stop(process) == 0


@pytest.mark.parametrize(
    "args",
    [["serve", "--port", "99999"], ["serve", "--port", "-1"], ["serve", "--port", "http"], ["demo", "--port", "65536"],
     ["run", "--serve", "100000"]],
    ids=["serve-99999", "serve-negative", "serve-name", "demo-65536", "run-serve-100000"],
)
def test_port_out_of_range_is_a_usage_error(tmp_path, args):
    line = assert_one_line(run_cli(*args, cwd=published(tmp_path), timeout=60), "is not a port number (0-65535)")
    assert "argument --" in line
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("state", ["missing", "a file"])
def test_serve_without_output_folder_says_so(tmp_path, state):
    (tmp_path / "refeed.toml").write_text('[output]\ndir = "public"\n', encoding="utf-8")
    if state == "a file":
        (tmp_path / "public").write_text("not a folder\n")
    result = run_cli("serve", "--port", "0", cwd=tmp_path, timeout=60)
    problem = "no such folder" if state == "missing" else "is a file, not a folder"
    line = assert_one_line(result, f"refeed: refeed.toml: output.dir: {tmp_path / 'public'}: {problem}")
    assert result.stderr.strip() == line and result.stdout == ""


def test_serve_on_an_address_it_cannot_listen_on_is_one_line(tmp_path):
    result = run_cli("serve", "--port", "0", "--host", "192.0.2.1", cwd=published(tmp_path), timeout=60)  # TEST-NET-1: not ours
    line = assert_one_line(result, "cannot listen on 192.0.2.1:0")
    assert result.stderr.strip() == line


def test_demo_says_a_taken_port_before_it_crawls(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("demo", "--port", str(port), cwd=tmp_path, timeout=60)
    line = assert_one_line(result, f"cannot listen on 127.0.0.1:{port}")
    assert result.stderr.strip() == line, result.stderr[-3000:]  # nothing crawled first
    assert not (tmp_path / "data" / "demo.sqlite3").exists() and result.stdout == ""


def test_demo_on_port_0_links_the_port_it_got(tmp_path):
    process = subprocess.Popen([sys.executable, str(ROOT / "scheduler.py"), "demo", "--port", "0"], cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    process.watchdog = threading.Timer(240, process.kill)
    process.watchdog.start()
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        feed = next(line.split()[1] for line in lines if line.startswith("feed:") and line.rstrip().endswith("/all.atom"))
        assert not feed.startswith("http://127.0.0.1:0/"), feed
        assert b"<entry>" in fetch(feed)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        process.watchdog.cancel()
        process.stdout.close()
