"""Data to a pipe whose reader stops early (`export | head -1`): refeed stops quietly with exit 141, as `yes | head` does."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli, write_config

EXIT_PIPE = 141  # 128 + SIGPIPE: what the shell shows for a writer whose reader went away


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, small_site):
    """A folder with refeed.toml and a store holding the small sample site (its export is far beyond a pipe's 64 KiB)."""
    from crawler.demo.server import SampleSiteServer

    directory = tmp_path_factory.mktemp("pipes")
    with SampleSiteServer(small_site) as site:
        write_config(directory, site.url)
        result = run_cli("once", cwd=directory)
    assert result.code == 0, result.stderr[-3000:]
    return directory


def command(*args) -> list[str]:
    return [sys.executable, str(ROOT / "scheduler.py"), *args]


def run_into_closed_pipe(directory, *args) -> subprocess.CompletedProcess:
    """Run with stdout a pipe whose reading end is already closed: the very first write meets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(command(*args), cwd=directory, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [("export",), ("status",), ("status", "--json")], ids=["export", "status", "status-json"])
def test_closed_pipe_stops_quietly_with_141(crawled, args):
    done = run_into_closed_pipe(crawled, *args)
    assert done.returncode == EXIT_PIPE, done.stderr[-3000:]
    assert done.stderr == ""


def test_reader_that_stops_after_one_line_ends_export_quietly(crawled):
    export = subprocess.Popen(command("export"), cwd=crawled, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = export.stdout.readline()
        export.stdout.close()  # as `head -1` does once it has its line; the export has far more to write
        assert export.wait(timeout=120) == EXIT_PIPE
        assert export.stderr.read() == b""
    finally:
        if export.poll() is None:
            export.kill()
            export.wait()
        export.stderr.close()
    assert first.startswith(b'{"id": ')


@pytest.mark.parametrize("pipeline", ["export | head -1", "status | head -3", "status --json | head -c 10"])
def test_shell_pipeline_into_head_prints_no_traceback(crawled, pipeline):
    left, right = pipeline.split(" | ")
    script = f"{shlex.join(command(*left.split()))} | {right}; echo \"exit ${{PIPESTATUS[0]}}\" >&2"
    done = subprocess.run(["bash", "-c", script], cwd=crawled, capture_output=True, text=True, timeout=120)
    assert done.stderr.splitlines()[-1] in (f"exit {EXIT_PIPE}", "exit 0"), done.stderr[-3000:]  # 0: all written before head left
    assert done.stderr.splitlines() == done.stderr.splitlines()[-1:], done.stderr[-3000:]
    assert done.stdout


def test_closed_stdout_is_no_pipe_to_mind(crawled):
    """`status >&-`: Python has no sys.stdout at all; the command runs as before, printing nowhere."""
    done = subprocess.run(["bash", "-c", f"{shlex.join(command('status'))} >&-"], cwd=crawled, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr[-3000:]
