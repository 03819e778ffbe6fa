"""Progress lines of a crawl: the pages requested against the source's max_pages, on stderr."""

from __future__ import annotations

import re

from conftest import run_cli, write_config

LINE = re.compile(r"crawler\.progress: limitedtimes: (\d+) pages \((\d+) of at most 40 requested(: max_pages reached)?\), ")


def test_progress_lines_count_pages_against_max_pages(tmp_path, small_site):
    from crawler.demo.server import SampleSiteServer

    with SampleSiteServer(small_site, delay=0.05) as server:  # 40 pages take a second or more: many lines at 0.05 s
        write_config(tmp_path, server.url, max_pages=40)
        result = run_cli("once", cwd=tmp_path, env={"REFEED_PROGRESS_INTERVAL": "0.05"})
    assert result.code == 0, result.stderr[-3000:]
    lines = [LINE.search(line) for line in result.stderr.splitlines() if "crawler.progress" in line]
    assert len(lines) >= 3 and all(lines), result.stderr[-3000:]
    requested = [int(m.group(2)) for m in lines]
    assert requested == sorted(requested) and all(0 < n <= 40 for n in requested)
    assert requested[-1] == 40 and lines[-1].group(3)  # the cap is reached on the sample site, and said
    assert all(int(m.group(1)) <= 41 for m in lines)  # robots.txt is a page too, but never requested by the spider


def test_a_bad_progress_interval_is_one_line_naming_it(tmp_path):
    write_config(tmp_path, "http://127.0.0.1:9/")
    result = run_cli("once", cwd=tmp_path, env={"REFEED_PROGRESS_INTERVAL": "nan"})
    assert result.code == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == ["refeed: environment: REFEED_PROGRESS_INTERVAL='nan': expected a number of seconds, 0 or more"]
