"""The broken-configuration table: each row a refeed.toml run through the real command line (build, and once for
some), which must end in exit 2 and one stderr line naming the file and the key, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from conftest import ROOT

SOURCE = 'name = "lt"\nspider = "generic"\nstart_urls = ["http://127.0.0.1:9/"]'
TOPIC = 'name = "kz"\ntitle = "Kazakhstan"\nkeywords = ["Kazakhstan"]'
BASE = {
    "store": 'url = "sqlite:///data/refeed.sqlite3"',
    "output": 'dir = "public"',
    "crawl": "concurrency = 4",
    "[source]": SOURCE,
    "source.selectors": "",
    "[topic]": TOPIC,
}


def config(section: str = "", lines: str = "") -> str:
    """The valid BASE file with `lines` put into `section`, each replacing a line of the same key."""
    text = []
    for name, body in BASE.items():
        kept = {line.split("=")[0].strip(): line for line in body.splitlines() if line}
        if name == section:
            kept.update({line.split("=")[0].strip(): line for line in lines.splitlines() if line})
        if kept:
            text.append(f"[{name}]" + "\n" + "\n".join(kept.values()) + "\n")
    return "\n".join(text)


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connecting is refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


DEAD_PORT = _closed_port()
DEAD_PG = f"postgresql+psycopg://refeed:secret@127.0.0.1:{DEAD_PORT}/refeed"
HUGE = "99999999999999999999"  # beyond 64 bits; TOML says so is invalid, Python's tomllib reads it
BOTH = ("build", "once")


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    says: str  # what the one line must hold after "refeed: refeed.toml: " (the key, then why)
    commands: tuple[str, ...] = ("build",)


ROWS = [
    # [store]
    Row("store-mysql-no-driver", config("store", 'url = "mysql://u@db.example/refeed"'), 'store.url "mysql://u@db.example/refeed": its driver is not installed', BOTH),
    Row("store-unknown-dialect", config("store", 'url = "foo://bar"'), "store.url \"foo://bar\": 'foo' is not a database"),
    Row("store-not-a-url", config("store", 'url = "not a url"'), 'store.url "not a url": not a SQLAlchemy URL'),
    Row("store-url-a-number", config("store", "url = 5"), "store.url: expected a string, got 5"),
    Row("store-port-too-big", config("store", 'url = "postgresql+psycopg://u:secret@h:99999/db"'), "store.url \"postgresql+psycopg://u:***@h:99999/db\": port 99999"),
    Row("store-unreachable-postgresql", config("store", f'url = "{DEAD_PG}"'),
        f'store.url "postgresql+psycopg://refeed:***@127.0.0.1:{DEAD_PORT}/refeed": cannot connect to the database', BOTH),
    Row("store-unknown-key", config("store", 'path = "x"'), "[store] unknown key 'path'"),
    Row("keep-days-negative", config("store", "keep_days = -1"), "store.keep_days: expected a whole number of days"),
    Row("keep-days-1e300", config("store", "keep_days = 1e300"), "store.keep_days: expected a whole number of days"),
    Row("keep-days-string", config("store", 'keep_days = "30"'), "store.keep_days: expected a whole number of days"),
    Row("keep-days-huge", config("store", f"keep_days = {HUGE}"), "store.keep_days: expected a whole number of days"),
    # [output]
    Row("formats-a-string", config("output", 'formats = "atom"'), "output.formats: expected a list of strings, got the string 'atom'"),
    Row("formats-unknown", config("output", 'formats = ["atom", "pdf"]'), "output.formats: unknown format 'pdf'"),
    Row("formats-empty", config("output", "formats = []"), "output.formats: give at least one"),
    Row("base-url-ftp", config("output", 'base_url = "ftp://x/"'), "output.base_url: 'ftp://x/' is not an http(s) URL"),
    Row("max-entries-zero", config("output", "max_entries = 0"), "output.max_entries: expected a positive integer, got 0"),
    Row("max-entries-huge", config("output", f"max_entries = {HUGE}"), f"output.max_entries: {HUGE} is too large"),
    Row("max-entries-inf", config("output", "max_entries = inf"), "output.max_entries: expected a positive integer, got inf"),
    Row("websub-hub-not-a-url", config("output", 'websub_hub = "hub"'), "output.websub_hub: 'hub' is not an http(s) URL"),
    Row("host-empty", config("output", 'host = ""'), "output.host: '' is not an address to listen on"),
    Row("host-with-space", config("output", 'host = "not a host"'), "output.host: 'not a host' is not an address to listen on"),
    Row("dir-a-number", config("output", "dir = 3"), "output.dir: expected a string, got 3"),
    Row("output-unknown-key", config("output", "port = 8080"), "[output] unknown key 'port'"),
    # [crawl]
    Row("concurrency-inf", config("crawl", "concurrency = inf"), "crawl.concurrency: expected a positive integer, got inf", BOTH),
    Row("concurrency-nan", config("crawl", "concurrency = nan"), "crawl.concurrency: expected a positive integer, got nan"),
    Row("concurrency-huge", config("crawl", f"concurrency = {HUGE}"), f"crawl.concurrency: {HUGE} is too large (at most 1000)"),
    Row("concurrency-bool", config("crawl", "concurrency = true"), "crawl.concurrency: expected a positive integer, got True"),
    Row("concurrency-1e300", config("crawl", "concurrency = 1e300"), "crawl.concurrency: expected a positive integer, got 1e+300"),
    Row("concurrency-5000-digits", config("crawl", "concurrency = " + "9" * 4000), "crawl.concurrency: a huge number is too large"),
    Row("run-timeout-huge", config("crawl", f"run_timeout = {HUGE}"), f"crawl.run_timeout: {HUGE} is too large", BOTH),
    Row("run-timeout-64-bit", config("crawl", "run_timeout = 9223372036854775807"), "crawl.run_timeout: 9223372036854775807 is too large"),
    Row("download-timeout-huge", config("crawl", f"download_timeout = {HUGE}"), f"crawl.download_timeout: {HUGE} is too large"),
    Row("download-timeout-negative", config("crawl", "download_timeout = -5"), "crawl.download_timeout: expected a positive integer, got -5"),
    Row("recheck-hours-inf", config("crawl", "recheck_hours = inf"), "crawl.recheck_hours: expected a number from 0 to 87600, got inf", BOTH),
    Row("recheck-hours-nan", config("crawl", "recheck_hours = nan"), "crawl.recheck_hours: expected a number from 0 to 87600, got nan"),
    Row("recheck-hours-1e300", config("crawl", "recheck_hours = 1e300"), "crawl.recheck_hours: expected a number from 0 to 87600, got 1e+300"),
    Row("recheck-hours-negative", config("crawl", "recheck_hours = -1"), "crawl.recheck_hours: expected a number from 0 to 87600, got -1"),
    Row("obey-robots-string", config("crawl", 'obey_robots = "yes"'), "crawl.obey_robots: expected true or false, got 'yes'"),
    Row("redis-url-garbage", config("crawl", 'redis_url = "garbage"'), 'crawl.redis_url "garbage": Redis URL must specify', BOTH),
    Row("redis-url-http", config("crawl", 'redis_url = "http://x:6379/0"'), 'crawl.redis_url "http://x:6379/0": Redis URL must specify'),
    Row("redis-url-bad-port", config("crawl", 'redis_url = "redis://:secret@h:99999/0"'), 'crawl.redis_url "redis://:***@h:99999/0": Port out of range'),
    Row("redis-unreachable", config("store", 'url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"').replace(
        "concurrency = 4", f'redis_url = "redis://127.0.0.1:{DEAD_PORT}/0"'),
        f'crawl.redis_url "redis://127.0.0.1:{DEAD_PORT}/0": cannot reach Redis', ("once",)),  # the PostgreSQL of the tests
    Row("redis-url-a-number", config("crawl", "redis_url = 6379"), "crawl.redis_url: expected a string, got 6379"),
    Row("parallel-sources-zero", config("crawl", "parallel_sources = 0"), "crawl.parallel_sources: expected a positive integer, got 0"),
    Row("parallel-sources-too-many", config("crawl", "parallel_sources = 101"), "crawl.parallel_sources: 101 is too large (at most 100)"),
    Row("user-agent-a-number", config("crawl", "user_agent = 1"), "crawl.user_agent: expected a string, got 1"),
    Row("crawl-unknown-key", config("crawl", "concurency = 4"), "[crawl] unknown key 'concurency'"),
    # [[source]]
    Row("schedule-interval-overflow", config("[source]", 'schedule = "every 99999999999999999999d"'),
        'source "lt": schedule "every 99999999999999999999d": interval must be at most 366 days', BOTH),
    Row("schedule-interval-zero", config("[source]", 'schedule = "every 0m"'), 'source "lt": schedule "every 0m": interval must be positive'),
    Row("schedule-reversed-range", config("[source]", 'schedule = "5-1 * * * *"'), "source \"lt\": schedule \"5-1 * * * *\": minute range '5-1' is reversed", BOTH),
    Row("schedule-minute-step", config("[source]", 'schedule = "*/61 * * * *"'), 'source "lt": schedule "*/61 * * * *": minute must be 0-59'),
    Row("schedule-day-zero", config("[source]", 'schedule = "0 0 0 * *"'), 'source "lt": schedule "0 0 0 * *": day of month must be 1-31'),
    Row("schedule-four-fields", config("[source]", 'schedule = "* * * *"'), 'source "lt": schedule "* * * *": expected 5 cron fields'),
    Row("schedule-words", config("[source]", 'schedule = "hourly"'), 'source "lt": schedule "hourly": expected 5 cron fields'),
    Row("spider-unknown", config("[source]", 'spider = "magic"'), "source \"lt\": spider 'magic' is unknown"),
    Row("source-name-unsafe", config("[source]", 'name = "../lt"'), "source[0].name: '../lt' must match [a-z0-9-]+"),
    Row("start-urls-a-string", config("[source]", 'start_urls = "http://x/"'), "source \"lt\": start_urls: expected a list of strings, got the string"),
    Row("start-urls-empty", config("[source]", "start_urls = []"), 'source "lt": start_urls: give at least one URL'),
    Row("start-urls-file", config("[source]", 'start_urls = ["file:///etc/passwd"]'), "source \"lt\": start_urls: 'file:///etc/passwd' is not an http(s) URL"),
    Row("follow-unbalanced", config("[source]", "follow = ['^/(news']"), "source \"lt\": follow: '^/(news' is not a regular expression"),
    Row("articles-backreference", config("[source]", r"articles = ['/(\d+)/\1']"), 'source "lt": articles: \'/(\\\\d+)/\\\\1\' is not a regular expression', BOTH),
    Row("articles-lookahead", config("[source]", "articles = ['^/(?!tag/)']"), "source \"lt\": articles: '^/(?!tag/)' is not a regular expression"),
    Row("follow-a-string", config("[source]", "follow = '^/news/'"), "source \"lt\": follow: expected a list of strings, got the string '^/news/'"),
    Row("max-pages-zero", config("[source]", "max_pages = 0"), 'source "lt": max_pages: expected a positive integer, got 0'),
    Row("max-pages-huge", config("[source]", f"max_pages = {HUGE}"), f'source "lt": max_pages: {HUGE} is too large'),
    Row("max-pages-nan", config("[source]", "max_pages = nan"), 'source "lt": max_pages: expected a positive integer, got nan'),
    Row("source-topics-a-string", config("[source]", 'topics = "world"'), "source \"lt\": topics: expected a list of strings, got the string 'world'"),
    Row("source-topics-unsafe", config("[source]", 'topics = ["Bad Topic"]'), "source \"lt\": topics: 'Bad Topic' must match [a-z0-9-]+"),
    Row("source-unknown-key", config("[source]", "pages = 5"), "source \"lt\": unknown key 'pages'"),
    # [source.selectors]
    Row("css-unparsable", config("source.selectors", 'body = "div["'), 'source "lt": selectors.body "div[": not a valid CSS selector', BOTH),
    Row("xpath-unparsable", config("source.selectors", 'body = "//div["'), 'source "lt": selectors.body "//div[": not a valid XPath expression'),
    Row("xpath-in-parentheses-unparsable", config("source.selectors", 'title = "(//h1"'), 'source "lt": selectors.title "(//h1": not a valid XPath expression'),
    Row("css-unknown-pseudo", config("source.selectors", 'image = "img::nope"'), 'source "lt": selectors.image "img::nope": not a valid CSS selector'),
    Row("selector-empty", config("source.selectors", 'title = " "'), 'source "lt": selectors.title " ": empty selector'),
    Row("remove-a-string", config("source.selectors", 'remove = "aside"'), "source \"lt\": selectors.remove: expected a list of strings, got the string 'aside'"),
    Row("remove-unparsable", config("source.selectors", 'remove = ["aside", "div["]'), 'source "lt": selectors.remove "div[": not a valid CSS selector'),
    Row("selector-a-number", config("source.selectors", "body = 5"), 'source "lt": selectors.body: expected a string, got 5'),
    Row("selector-unknown-field", config("source.selectors", 'summary = "p"'), "source \"lt\": selectors: unknown key 'summary'"),
    # [[topic]]
    Row("keywords-a-string", config("[topic]", 'keywords = "Kazakhstan"'), "topic \"kz\": keywords: expected a list of strings, got the string 'Kazakhstan'"),
    Row("keywords-empty", config("[topic]", "keywords = []"), 'topic "kz": keywords: give at least one non-empty keyword'),
    Row("keywords-blank", config("[topic]", 'keywords = [" "]'), 'topic "kz": keywords: give at least one non-empty keyword'),
    Row("topic-named-all", config("[topic]", 'name = "all"'), "topic[0].name: 'all' must match [a-z0-9-]+ and not be \"all\""),
    Row("exclude-a-string", config("[topic]", 'exclude = "sport"'), "topic \"kz\": exclude: expected a list of strings, got the string 'sport'"),
    Row("topic-title-a-list", config("[topic]", 'title = ["Kazakhstan"]'), "topic \"kz\": title: expected a string, got ['Kazakhstan']"),
    # whole files
    Row("not-toml", "[store\nurl =\n", "not valid TOML", BOTH),
    Row("unknown-table", config() + "\n[crawler]\nconcurrency = 4\n", "unknown key 'crawler'"),
    Row("source-a-table", config("store") .replace("[[source]]", "[source]"), "source: expected an array of tables ([[source]])"),
    Row("store-a-string", 'store = "sqlite:///x"\n', "store: expected a table, got str"),
    Row("source-twice", config() + "\n[[source]]\n" + SOURCE + "\n", 'source "lt": name is used twice'),
    Row("topic-twice", config() + "\n[[topic]]\n" + TOPIC + "\n", 'topic "kz": name is used twice'),
]


@dataclass(frozen=True)
class Answer:
    code: int
    stderr: str
    stdout: str


def _run(folder, command: str) -> Answer:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("REFEED_CONFIG", None)
    done = subprocess.run([sys.executable, str(ROOT / "scheduler.py"), command, "-c", "refeed.toml"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)
    return Answer(done.returncode, done.stderr, done.stdout)


@pytest.fixture(scope="module")
def answers(tmp_path_factory) -> dict[tuple[str, str], tuple[Answer, object]]:
    """Every row's file under every command it names, run four at a time (each run is a Python start-up)."""
    jobs = []
    for row in ROWS:
        folder = tmp_path_factory.mktemp(row.id)
        (folder / "refeed.toml").write_text(row.text, encoding="utf-8")
        jobs += [(row.id, command, folder) for command in row.commands]
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = pool.map(lambda job: _run(job[2], job[1]), jobs)
        return {(row_id, command): (answer, folder) for (row_id, command, folder), answer in zip(jobs, done)}


def test_the_table_is_big_enough():
    assert len(ROWS) >= 40 and len({row.id for row in ROWS}) == len(ROWS)
    assert sum(len(row.commands) for row in ROWS) >= 90


@pytest.mark.parametrize("row, command", [(row, command) for row in ROWS for command in row.commands],
                         ids=[f"{row.id}-{command}" for row in ROWS for command in row.commands])
def test_broken_configuration_is_one_line_naming_file_and_key(answers, row: Row, command: str):
    answer, folder = answers[(row.id, command)]
    assert "Traceback" not in answer.stderr and "Unhandled error" not in answer.stderr, answer.stderr[-3000:]
    assert answer.code == 2, answer.stderr[-3000:]
    lines = answer.stderr.strip().splitlines()
    assert len(lines) == 1, answer.stderr[-3000:]
    assert lines[0].startswith("refeed: refeed.toml: ") and row.says in lines[0], lines[0]
    assert "secret" not in lines[0] and len(lines[0]) < 400
    assert answer.stdout == ""
    assert not (folder / "data").exists() and not (folder / "public").exists()  # refused before anything is made


@pytest.mark.parametrize(
    "args, says",
    [
        (["serve", "--port", "99999"], "argument --port: '99999' is not a port number (0-65535)"),
        (["run", "--serve", "-1"], "argument --serve: '-1' is not a port number (0-65535)"),
        (["demo", "--port", "http"], "argument --port: 'http' is not a port number (0-65535)"),
    ],
)
def test_a_bad_port_is_a_usage_error_without_a_child(tmp_path, args, says):
    (tmp_path / "refeed.toml").write_text(config(), encoding="utf-8")
    done = subprocess.run([sys.executable, str(ROOT / "scheduler.py"), *args], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1].endswith(says), done.stderr


def test_an_unknown_source_is_one_line_naming_the_file(tmp_path):
    (tmp_path / "refeed.toml").write_text(config(), encoding="utf-8")
    done = subprocess.run([sys.executable, str(ROOT / "scheduler.py"), "once", "--source", "nope"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == ["refeed: refeed.toml: no source named 'nope' (sources: lt)"]


def test_the_base_file_of_the_table_is_valid(tmp_path):
    (tmp_path / "refeed.toml").write_text(config("source.selectors", 'body = "div.article-body"'), encoding="utf-8")
    answer = _run(tmp_path, "build")
    assert answer.code == 0, answer.stderr[-3000:]
