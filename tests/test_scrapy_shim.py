"""crawler/scrapy_shim.py, the one module that looks inside Scrapy's engine, against the Scrapy it was written for:
a Scrapy upgrade fails here first, and nowhere else."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import scrapy
from conftest import ROOT

from crawler.scrapy_shim import SCRAPY_VERSION


def pinned_scrapy() -> str:
    found = re.search(r"^scrapy==(\S+)", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.M | re.I)
    assert found, "requirements.txt pins no scrapy version"
    return found.group(1)


def test_installed_scrapy_is_the_version_the_shim_was_written_for():
    assert scrapy.__version__ == pinned_scrapy() == SCRAPY_VERSION, (
        "Scrapy changed: check each function of crawler/scrapy_shim.py against the new engine, then raise SCRAPY_VERSION"
    )


@pytest.fixture(scope="module")
def probed() -> dict:
    """What each shim function said at each moment of a real crawl of a server on 127.0.0.1 (tests/shim_probe.py)."""
    done = subprocess.run(
        [sys.executable, "-W", "error", str(ROOT / "tests" / "shim_probe.py")],  # a deprecation fails it, as in pytest
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_a_crawler_is_locally_busy_while_a_page_downloads_is_scraped_or_its_item_is_in_the_pipeline(probed):
    assert probed["idle while a page downloads"] is False
    assert probed["idle while a page is scraped"] is False
    assert probed["idle while an item is in the pipeline"] is False
    assert probed["idle when nothing is in flight"] is True


def test_a_request_waiting_in_the_scheduler_is_not_local_work(probed):
    assert probed["idle with a request queued"] is True
    assert probed["spider_is_idle with a request queued"] is False  # what Scrapy's own idea of idle says, for contrast


def test_wake_starts_a_queued_request_without_the_engines_heartbeat(probed):
    # The probe stopped the heartbeat: without wake() the request would wait until the probe gives up and stops the crawl.
    assert probed["finish_reason"] == "finished", probed
    assert probed["seconds from wake to response"] < 10


def test_closing_is_false_while_the_spider_is_open_and_true_from_its_close_on(probed):
    assert probed["closing while open"] is False
    assert probed["closing while closing"] is True
    assert probed["closing after close"] is True
