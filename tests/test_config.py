"""refeed.toml validation: a bad key is one line naming it, and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from crawler.config import ConfigError, parse_config, parse_schedule

GOOD_SOURCE = {"name": "lt", "spider": "limitedtimes", "start_urls": ["http://127.0.0.1:8000/"]}


def test_defaults_fill_a_minimal_config(tmp_path):
    config = parse_config({"source": [GOOD_SOURCE]}, tmp_path / "refeed.toml")
    assert config.output.formats == ("atom", "rss", "json")
    assert config.output.max_entries == 100
    assert config.output.dir == tmp_path / "public"
    assert config.store_url == f"sqlite:///{tmp_path}/data/refeed.sqlite3"
    assert config.crawl.obey_robots is True
    assert config.sources[0].schedule == "every 30m"


@pytest.mark.parametrize(
    "schedule, kind",
    [("*/30 * * * *", "cron"), ("0 6,18 * * 1-5", "cron"), ("every 15m", "interval"), ("every 2h", "interval"), ("every 30s", "interval")],
)
def test_valid_schedules_parse(schedule, kind):
    assert parse_schedule(schedule)[0] == kind


@pytest.mark.parametrize(
    "data, message",
    [
        ({"source": [GOOD_SOURCE], "stor": {}}, "unknown key 'stor'"),
        ({"source": [{**GOOD_SOURCE, "shedule": "every 5m"}]}, 'source "lt": unknown key \'shedule\''),
        ({"source": [{**GOOD_SOURCE, "schedule": "*/61 * * * *"}]}, 'source "lt": schedule "*/61 * * * *": minute must be 0-59'),
        ({"source": [{**GOOD_SOURCE, "schedule": "* * *"}]}, "expected 5 cron fields"),
        ({"source": [{**GOOD_SOURCE, "spider": "nope"}]}, "spider 'nope' is unknown"),
        ({"source": [{**GOOD_SOURCE, "name": "Bad Name"}]}, "must match [a-z0-9-]+"),
        ({"source": [GOOD_SOURCE, GOOD_SOURCE]}, 'source "lt": name is used twice'),
        ({"source": [GOOD_SOURCE], "topic": [{"name": "../etc", "keywords": ["x"]}]}, "topic[0].name: '../etc'"),
        ({"source": [GOOD_SOURCE], "topic": [{"name": "ok", "keywords": []}]}, 'topic "ok": keywords'),
        ({"source": [GOOD_SOURCE], "output": {"formats": ["atom", "pdf"]}}, "unknown format 'pdf'"),
        ({"source": [GOOD_SOURCE], "output": {"max_entries": 0}}, "output.max_entries: expected a positive integer"),
        ({"source": [GOOD_SOURCE], "crawl": {"parallel_sources": 0}}, "crawl.parallel_sources: expected a positive integer"),
        ({"source": [{**GOOD_SOURCE, "articles": ["("]}]}, "not a regular expression"),
        ({"source": [{**GOOD_SOURCE, "articles": [r"/(\d+)/\1"]}]}, 'source "lt": articles: \'/(\\\\d+)/\\\\1\' is not a regular expression refeed can match in linear time'),
        ({"source": [{**GOOD_SOURCE, "follow": ["^/(?!tag/)"]}]}, 'source "lt": follow: \'^/(?!tag/)\' is not a regular expression refeed'),
        ({"source": [{**GOOD_SOURCE, "start_urls": ["ftp://x"]}]}, "is not an http(s) URL"),
    ],
)
def test_bad_config_names_the_key(tmp_path, data, message):
    with pytest.raises(ConfigError) as error:
        parse_config(data, tmp_path / "refeed.toml")
    assert message in str(error.value)
    assert str(error.value).startswith("refeed.toml: ")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ('[[source]]\nname = "lt"\nspider = "limitedtimes"\nstart_urls = ["http://x/"]\nschedule = "*/61 * * * *"\n', "minute must be 0-59"),
        ('[[source]]\nname = "lt"\nspider = "magic"\nstart_urls = ["http://x/"]\n', "spider 'magic' is unknown"),
        ('[crawl]\nconcurency = 4\n', "unknown key 'concurency'"),
        ('[[topic]]\nname = "a/b"\nkeywords = ["x"]\n', "topic[0].name: 'a/b'"),
        ("[store\nurl=", "not valid TOML"),
    ],
)
def test_bad_config_exits_2_with_one_line(tmp_path: Path, text, message):
    (tmp_path / "refeed.toml").write_text(text, encoding="utf-8")
    result = run_cli("once", cwd=tmp_path)
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_missing_config_exits_2(tmp_path):
    result = run_cli("once", cwd=tmp_path)
    assert result.code == 2
    assert "refeed.toml not found" in result.stderr and "Traceback" not in result.stderr


def test_config_found_through_environment(tmp_path):
    (tmp_path / "elsewhere.toml").write_text('[crawl]\nconcurency = 4\n', encoding="utf-8")
    result = run_cli("once", cwd=tmp_path, env={"REFEED_CONFIG": str(tmp_path / "elsewhere.toml")})
    assert result.code == 2 and "elsewhere.toml: [crawl] unknown key 'concurency'" in result.stderr
