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


SOURCE_TOML = '[[source]]\nname = "lt"\nspider = "generic"\nstart_urls = ["http://127.0.0.1:9/"]\n'


@pytest.mark.parametrize(
    "text, line",
    [
        ('[store]\nurl = "mysql://u@db.example/refeed"\n', 'store.url "mysql://u@db.example/refeed": its driver is not installed'),
        ('[store]\nurl = "foo://bar"\n', 'store.url "foo://bar": \'foo\' is not a database SQLAlchemy knows'),
        ('[store]\nurl = "not a url"\n', 'store.url "not a url": not a SQLAlchemy URL'),
        ('[store]\nurl = "postgresql+psycopg://u:secret@h:99999/db"\n', 'store.url "postgresql+psycopg://u:***@h:99999/db": port 99999'),
        ("[crawl]\nrecheck_hours = inf\n", "crawl.recheck_hours: expected a number from 0 to 87600, got inf"),
        ("[crawl]\nrecheck_hours = nan\n", "crawl.recheck_hours: expected a number from 0 to 87600, got nan"),
        ("[crawl]\nrecheck_hours = 1e300\n", "crawl.recheck_hours: expected a number from 0 to 87600, got 1e+300"),
        ("[crawl]\nconcurrency = 99999999999999999999\n", "crawl.concurrency: 99999999999999999999 is too large (at most 1000)"),
        ("[crawl]\nrun_timeout = 9223372036854775807\n", "crawl.run_timeout: 9223372036854775807 is too large"),
        ("[crawl]\ndownload_timeout = 18446744073709551616\n", "crawl.download_timeout: 18446744073709551616 is too large"),
        ('[crawl]\nredis_url = "garbage"\n', 'crawl.redis_url "garbage": Redis URL must specify one of the following schemes'),
        ('[crawl]\nredis_url = "redis://:secret@h:99999/0"\n', 'crawl.redis_url "redis://:***@h:99999/0": Port out of range'),
        ('[output]\nhost = "not a host"\n', "output.host: 'not a host' is not an address to listen on"),
        (SOURCE_TOML + 'schedule = "every 99999999999999999999d"\n', 'schedule "every 99999999999999999999d": interval must be at most 366 days'),
        (SOURCE_TOML + 'schedule = "5-1 * * * *"\n', "schedule \"5-1 * * * *\": minute range '5-1' is reversed"),
        (SOURCE_TOML + '[source.selectors]\nbody = "div["\n', 'source "lt": selectors.body "div[": not a valid CSS selector'),
        (SOURCE_TOML + '[source.selectors]\nbody = "//div["\n', 'source "lt": selectors.body "//div[": not a valid XPath expression'),
        (SOURCE_TOML + '[source.selectors]\nremove = ["aside", "p::nope"]\n', 'selectors.remove "p::nope": not a valid CSS selector'),
        ('[[topic]]\nname = "kz"\nkeywords = "Kazakhstan"\n', "topic \"kz\": keywords: expected a list of strings, got the string 'Kazakhstan'"),
    ],
    ids=["store-no-driver", "store-unknown-dialect", "store-not-a-url", "store-bad-port", "recheck-inf", "recheck-nan", "recheck-1e300",
         "concurrency-huge", "run-timeout-64-bit", "download-timeout-65-bit", "redis-garbage", "redis-bad-port", "host-garbage",
         "interval-overflow", "cron-reversed-range", "css-unparsable", "xpath-unparsable", "remove-unknown-pseudo", "keywords-a-string"],
)
def test_config_mistake_is_one_line_naming_the_key(tmp_path: Path, text, line):
    (tmp_path / "refeed.toml").write_text(text, encoding="utf-8")
    result = run_cli("build", cwd=tmp_path, timeout=60)
    assert result.code == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert lines[0].startswith("refeed: refeed.toml: ") and line in lines[0], lines[0]
    assert "secret" not in lines[0]
    assert not (tmp_path / "data").exists()  # refused before anything is made


@pytest.mark.parametrize(
    "data",
    [
        {"store": {"url": "postgresql+psycopg://refeed@db.example:5432/refeed"}},
        {"store": {"url": "sqlite://"}},
        {"crawl": {"recheck_hours": 0, "concurrency": 1000, "run_timeout": 30 * 86400, "redis_url": "redis://10.0.0.5:6379/0"}},
        {"crawl": {"redis_url": "unix:///run/redis.sock"}},
        {"output": {"host": "::"}},
        {"source": [{**GOOD_SOURCE, "schedule": "every 366d"}]},
        {"source": [{**GOOD_SOURCE, "schedule": "1-5 0-23/2 1-31 1-12 1-5"}]},
        {"source": [{**GOOD_SOURCE, "selectors": {"title": "h1::text", "image": "img::attr(src)", "body": "(//div[@id='x'])[1]",
                                                  "published": "//time/@datetime", "remove": ["aside", ".share", "//footer"]}}]},
    ],
)
def test_edge_values_that_are_right_are_accepted(tmp_path, data):
    parse_config({"source": [GOOD_SOURCE], **data}, tmp_path / "refeed.toml")


@pytest.mark.parametrize("command", ["build", "export", "status", "run"])
def test_unreachable_database_is_one_line_naming_store_url(tmp_path: Path, command):
    import socket

    with socket.socket() as closed:  # bound, never listening: connecting to it is refused at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        url = f"postgresql+psycopg://refeed:secret@127.0.0.1:{port}/refeed"
        (tmp_path / "refeed.toml").write_text(f'[store]\nurl = "{url}"\n\n' + SOURCE_TOML, encoding="utf-8")
        result = run_cli(command, cwd=tmp_path, timeout=60)
    assert result.code == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert lines[0].startswith(f'refeed: refeed.toml: store.url "postgresql+psycopg://refeed:***@127.0.0.1:{port}/refeed": cannot connect'), lines[0]
    assert "Connection refused" in lines[0] and "secret" not in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(
    "schedule, days",
    [
        ("0 6 * * 1-5", ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]),
        ("0 0 * * 0", ["Sun", "Sun"]),
        ("0 0 * * 7", ["Sun", "Sun"]),
        ("0 0 * * 0-6", ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
        ("0 0 * * 5-7", ["Fri", "Sat", "Sun", "Fri"]),
        ("0 0 * * */2", ["Tue", "Thu", "Sat", "Sun", "Tue"]),
        ("0 0 * * 6,0", ["Sat", "Sun", "Sat"]),
        ("0 0 13 * *", ["Sun", "Wed"]),  # the 13th: any weekday
    ],
)
def test_cron_weekdays_count_from_sunday_as_crontab_does(schedule, days):
    """APScheduler 3 counts weekdays from Monday = 0 and refuses 7: the daemon's trigger must still fire on crontab's days."""
    from datetime import UTC, datetime, timedelta

    from apscheduler.triggers.cron import CronTrigger

    from crawler.config import cron_fields

    trigger = CronTrigger(**cron_fields(parse_schedule(schedule)[1]), timezone="UTC")
    moment, fired = datetime(2026, 12, 6, 12, 0, tzinfo=UTC), []  # a Sunday, after midnight and 06:00
    for _ in days:
        moment = trigger.get_next_fire_time(None, moment + timedelta(seconds=1))
        fired.append(moment.strftime("%a"))
    assert fired == days


def test_run_with_sunday_as_7_starts_and_stops_cleanly(tmp_path: Path):
    import signal
    import subprocess
    import sys
    import threading

    from conftest import ROOT

    (tmp_path / "refeed.toml").write_text(SOURCE_TOML + 'schedule = "0 0 * * 7"\n', encoding="utf-8")
    daemon = subprocess.Popen([sys.executable, str(ROOT / "scheduler.py"), "run"], cwd=tmp_path, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watchdog = threading.Timer(120, daemon.kill)  # a line that never comes ends the read below
    watchdog.start()
    try:
        seen = []
        for line in daemon.stderr:
            seen.append(line)
            if "crawl lt: finished" in line:  # the first crawl runs at once; by then the daemon's signal handlers are set
                break
        daemon.send_signal(signal.SIGTERM)
        _, rest = daemon.communicate(timeout=60)
    finally:
        watchdog.cancel()
    output = "".join(seen) + rest
    assert daemon.returncode == 0 and "Traceback" not in output, output[-3000:]
