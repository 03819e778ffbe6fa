"""refeed.toml → a validated, typed Config; every bad key is one error line."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from crawler.patterns import compile_pattern
from crawler.schedule import cron_fields, parse_schedule  # part of this module's API: a bad schedule is a bad config

__all__ = [
    "Config",
    "ConfigError",
    "CrawlConfig",
    "OutputConfig",
    "SourceConfig",
    "TopicConfig",
    "check_paths",
    "check_writable",
    "cron_fields",
    "find_config",
    "load_config",
    "parse_config",
    "parse_schedule",
    "sqlite_path",
    "KEYS",
    "SPIDERS",
]

SPIDERS = ("limitedtimes", "generic", "feed")
FORMATS = ("atom", "rss", "json")
SELECTOR_FIELDS = ("title", "body", "published", "authors", "section", "image", "remove")
# Every key a refeed.toml may hold, by table (docs/configuration.md documents each; tests/test_docs.py checks both ways).
KEYS = {
    "": ("store", "output", "crawl", "source", "topic"),
    "store": ("url", "keep_days"),
    "output": ("dir", "base_url", "formats", "max_entries", "websub_hub", "host"),
    "crawl": ("concurrency", "obey_robots", "user_agent", "redis_url", "redis_prefix", "recheck_hours", "run_timeout",
              "download_timeout", "parallel_sources"),
    "source": ("name", "spider", "start_urls", "schedule", "follow", "articles", "max_pages", "topics", "selectors"),
    "source.selectors": SELECTOR_FIELDS,
    "topic": ("name", "title", "keywords", "exclude"),
}
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DEFAULT_CONFIG = "refeed.toml"
MAX_KEEP_DAYS = 36500


class ConfigError(Exception):
    """A configuration the user must fix; str() is the one line to print."""


@dataclass(frozen=True)
class SourceConfig:
    name: str
    spider: str
    start_urls: tuple[str, ...]
    schedule: str = "every 30m"
    follow: tuple[str, ...] = ()
    articles: tuple[str, ...] = ()
    max_pages: int = 500
    topics: tuple[str, ...] = ()
    selectors: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TopicConfig:
    name: str
    title: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputConfig:
    dir: Path
    base_url: str = "http://localhost:8080/"
    formats: tuple[str, ...] = FORMATS
    max_entries: int = 100
    websub_hub: str = ""  # set: feeds advertise this WebSub hub and it is pinged when they change
    host: str = "127.0.0.1"  # the address `serve` and `run --serve` listen on ("0.0.0.0": every IPv4 interface)


@dataclass(frozen=True)
class CrawlConfig:
    concurrency: int = 16
    obey_robots: bool = True
    user_agent: str = "refeed/1.0 (+https://example.org/refeed)"
    redis_url: str = ""
    redis_prefix: str = "refeed"  # Redis keys start with this: several refeed installations can share one Redis
    recheck_hours: float = 48.0  # stored articles younger than this are re-asked conditionally
    run_timeout: int = 3600  # seconds a crawl of one source may take before it is stopped
    download_timeout: int = 20  # seconds one page may take; then it is retried, then skipped
    parallel_sources: int = 4  # the daemon crawls at most this many sources at once (each a crawl and its page pool)


@dataclass(frozen=True)
class Config:
    path: Path | None
    store_url: str
    output: OutputConfig
    crawl: CrawlConfig
    sources: tuple[SourceConfig, ...]
    topics: tuple[TopicConfig, ...]
    keep_days: int = 0  # > 0: stories first seen longer ago lose their text and HTML (what deduplication needs stays)

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"{self._label}: no source named {name!r} (sources: {known})")

    @property
    def _label(self) -> str:
        return self.path.name if self.path else DEFAULT_CONFIG


def find_config(explicit: str | None) -> Path:
    """The config file: -c, else refeed.toml in the working directory, else $REFEED_CONFIG."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{explicit}: no such configuration file")
        return path
    local = Path(DEFAULT_CONFIG)
    if local.is_file():
        return local
    env = os.environ.get("REFEED_CONFIG")
    if env:
        if not Path(env).is_file():
            raise ConfigError(f"REFEED_CONFIG={env}: no such configuration file")
        return Path(env)
    raise ConfigError(f"no configuration: {DEFAULT_CONFIG} not found here and REFEED_CONFIG is not set (see README)")


def load_config(explicit: str | None = None) -> Config:
    path = find_config(explicit)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_config(data, path)


def parse_config(data: dict, path: Path | None = None) -> Config:
    """Validate a parsed TOML document; relative paths resolve against the file's folder."""
    label = path.name if path else DEFAULT_CONFIG
    base = path.resolve().parent if path else Path.cwd()
    check = _Checker(label)
    check.keys("", data, KEYS[""])

    store = check.table("store", data.get("store", {}))
    check.keys("store", store, KEYS["store"])
    store_url = check.string("store.url", store.get("url", "sqlite:///data/refeed.sqlite3"))
    keep_days = store.get("keep_days", 0)
    if not isinstance(keep_days, int) or isinstance(keep_days, bool) or not 0 <= keep_days <= MAX_KEEP_DAYS:
        check.fail(f"store.keep_days: expected a whole number of days from 0 (keep everything) to {MAX_KEEP_DAYS}, got {keep_days!r}")

    out = check.table("output", data.get("output", {}))
    check.keys("output", out, KEYS["output"])
    formats = tuple(check.strings("output.formats", out.get("formats", list(FORMATS))))
    for fmt in formats:
        if fmt not in FORMATS:
            check.fail(f"output.formats: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if not formats:
        check.fail("output.formats: give at least one of " + ", ".join(FORMATS))
    base_url = check.string("output.base_url", out.get("base_url", "http://localhost:8080/"))
    if not re.match(r"^https?://[^/\s]+", base_url):
        check.fail(f"output.base_url: {base_url!r} is not an http(s) URL")
    websub_hub = check.string("output.websub_hub", out.get("websub_hub", "")).strip()
    if websub_hub and not re.match(r"^https?://[^/\s]+", websub_hub):
        check.fail(f"output.websub_hub: {websub_hub!r} is not an http(s) URL")
    output = OutputConfig(
        dir=_resolve_path(check.string("output.dir", out.get("dir", "public")), base),
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        formats=formats,
        max_entries=check.positive("output.max_entries", out.get("max_entries", 100), most=100_000),
        websub_hub=websub_hub,
        host=_host(check, out.get("host", OutputConfig.host)),
    )

    crawl_t = check.table("crawl", data.get("crawl", {}))
    check.keys("crawl", crawl_t, KEYS["crawl"])
    crawl = CrawlConfig(
        concurrency=check.positive("crawl.concurrency", crawl_t.get("concurrency", 16), most=1_000),
        obey_robots=check.boolean("crawl.obey_robots", crawl_t.get("obey_robots", True)),
        user_agent=check.string("crawl.user_agent", crawl_t.get("user_agent", CrawlConfig.user_agent)),
        redis_url=_redis_url(check, check.string("crawl.redis_url", crawl_t.get("redis_url", ""))),
        redis_prefix=check.string("crawl.redis_prefix", crawl_t.get("redis_prefix", "refeed")) or "refeed",
        recheck_hours=check.number("crawl.recheck_hours", crawl_t.get("recheck_hours", 48.0), most=10 * 365 * 24),
        run_timeout=check.positive("crawl.run_timeout", crawl_t.get("run_timeout", 3600), most=30 * 86400),
        download_timeout=check.positive("crawl.download_timeout", crawl_t.get("download_timeout", 20), most=86400),
        parallel_sources=check.positive("crawl.parallel_sources", crawl_t.get("parallel_sources", CrawlConfig.parallel_sources), most=100),
    )

    sources = tuple(_source(check, i, raw) for i, raw in enumerate(check.array("source", data.get("source", []))))
    names = [s.name for s in sources]
    for name in names:
        if names.count(name) > 1:
            check.fail(f'source "{name}": name is used twice; names must be unique')
    topics = tuple(_topic(check, i, raw) for i, raw in enumerate(check.array("topic", data.get("topic", []))))
    topic_names = [t.name for t in topics]
    for name in topic_names:
        if topic_names.count(name) > 1:
            check.fail(f'topic "{name}": name is used twice; names must be unique')
    store_url = _resolve_store_url(_store_url(check, store_url), base)  # last: it imports SQLAlchemy (0.2 s)
    return Config(path=path, store_url=store_url, output=output, crawl=crawl, sources=sources, topics=topics, keep_days=keep_days)


def _source(check: _Checker, index: int, raw) -> SourceConfig:
    raw = check.table(f"source[{index}]", raw)
    name = raw.get("name")
    if not isinstance(name, str) or not SLUG.match(name):
        check.fail(f"source[{index}].name: {name!r} must match [a-z0-9-]+")
    where = f'source "{name}"'
    check.keys(where, raw, KEYS["source"])
    spider = raw.get("spider", "generic")
    if spider not in SPIDERS:
        check.fail(f"{where}: spider {spider!r} is unknown (known: {', '.join(SPIDERS)})")
    start_urls = tuple(check.strings(f"{where}: start_urls", raw.get("start_urls")))
    if not start_urls:
        check.fail(f"{where}: start_urls: give at least one URL")
    for url in start_urls:
        if not re.match(r"^https?://[^/\s]+", url):
            check.fail(f"{where}: start_urls: {url!r} is not an http(s) URL")
    schedule = check.string(f"{where}: schedule", raw.get("schedule", "every 30m"))
    try:
        parse_schedule(schedule)
    except ValueError as exc:
        check.fail(f'{where}: schedule "{schedule}": {exc}')
    regexes = {}
    for key in ("follow", "articles"):
        values = tuple(check.strings(f"{where}: {key}", raw.get(key, [])))
        for value in values:
            try:
                compile_pattern(value)
            except ValueError as exc:
                check.fail(f"{where}: {key}: {value!r} is not a regular expression refeed can match in linear time (RE2 syntax): {exc}")
        regexes[key] = values
    topics = tuple(check.strings(f"{where}: topics", raw.get("topics", [])))
    for topic in topics:
        if not SLUG.match(topic):
            check.fail(f"{where}: topics: {topic!r} must match [a-z0-9-]+")
    selectors = check.table(f"{where}: selectors", raw.get("selectors", {}))
    check.keys(f"{where}: selectors", selectors, KEYS["source.selectors"])
    for key, value in selectors.items():
        if key == "remove":
            expressions = check.strings(f"{where}: selectors.remove", value)
        else:
            expressions = [check.string(f"{where}: selectors.{key}", value)]
        for expression in expressions:
            problem = _selector_problem(expression)
            if problem:
                check.fail(f'{where}: selectors.{key} "{expression}": {problem}')
    return SourceConfig(
        name=name,
        spider=spider,
        start_urls=start_urls,
        schedule=schedule,
        follow=regexes["follow"],
        articles=regexes["articles"],
        max_pages=check.positive(f"{where}: max_pages", raw.get("max_pages", 500), most=10_000_000),
        topics=topics,
        selectors=dict(selectors),
    )


def _topic(check: _Checker, index: int, raw) -> TopicConfig:
    raw = check.table(f"topic[{index}]", raw)
    name = raw.get("name")
    if not isinstance(name, str) or not SLUG.match(name) or name == "all":
        check.fail(f"topic[{index}].name: {name!r} must match [a-z0-9-]+ and not be \"all\"")
    where = f'topic "{name}"'
    check.keys(where, raw, KEYS["topic"])
    keywords = tuple(check.strings(f"{where}: keywords", raw.get("keywords")))
    if not keywords or not all(k.strip() for k in keywords):
        check.fail(f"{where}: keywords: give at least one non-empty keyword")
    return TopicConfig(
        name=name,
        title=check.string(f"{where}: title", raw.get("title", name.replace("-", " ").title())),
        keywords=keywords,
        exclude=tuple(check.strings(f"{where}: exclude", raw.get("exclude", []))),
    )


def check_paths(config: Config) -> None:
    """Before a crawl or build: the output folder and a SQLite store's file can be created and written."""
    check_writable(config._label, "output.dir", Path(config.output.dir))
    database = sqlite_path(config.store_url)
    if database is not None:
        if database.is_dir():
            raise ConfigError(f"{config._label}: store.url: {database}: is a folder, not a database file")
        if database.exists() and not os.access(database, os.W_OK):
            raise ConfigError(f"{config._label}: store.url: {database}: is not writable")
        check_writable(config._label, "store.url", database.parent, shown=database)  # WAL files go beside it


def check_writable(label: str, key: str, folder: Path, shown: Path | None = None) -> None:
    """ConfigError naming `key` unless `folder` is (or can be created as) a writable folder."""
    problem = None
    if folder.exists():
        if not folder.is_dir():
            problem = "is a file, not a folder" if shown is None else f"{folder} is a file, not a folder"
        elif not os.access(folder, os.W_OK | os.X_OK):
            problem = "is not writable" if shown is None else f"folder {folder} is not writable"
    else:
        parent = folder.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            problem = f"cannot be created: {parent} is a file, not a folder"
        elif not os.access(parent, os.W_OK | os.X_OK):
            problem = f"cannot be created: {parent} is not writable"
    if problem:
        raise ConfigError(f"{label}: {key}: {shown or folder}: {problem}")


def sqlite_path(store_url: str) -> Path | None:
    """The database file of a `sqlite:///…` URL; None for other stores and in-memory SQLite."""
    prefix = "sqlite:///"
    if not store_url.startswith(prefix):
        return None
    database = store_url[len(prefix):].split("?", 1)[0]
    return Path(database) if database and database != ":memory:" else None


def _resolve_store_url(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str(base / url[len(prefix):])
    return url


def _resolve_path(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _short(value) -> str:
    """repr() of a config value, shortened: a 5,000-digit integer is not one line."""
    text = repr(value) if not isinstance(value, int) or isinstance(value, bool) or value.bit_length() < 200 else "a huge number"
    return text if len(text) <= 80 else text[:77] + "..."


def _store_url(check: _Checker, url: str) -> str:
    """`url` when SQLAlchemy can parse it and its dialect and driver are installed; reaching the server is a later step."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        check.fail(f'store.url "{url}": not a SQLAlchemy URL (e.g. "sqlite:///data/refeed.sqlite3", "postgresql+psycopg://host/db")')
    shown = parsed.render_as_string(hide_password=True)
    if parsed.port is not None and not 0 < parsed.port <= 65535:
        check.fail(f'store.url "{shown}": port {parsed.port} is not 1-65535')
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        check.fail(f'store.url "{shown}": {parsed.drivername!r} is not a database SQLAlchemy knows (e.g. sqlite, postgresql+psycopg)')
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        check.fail(f'store.url "{shown}": its driver is not installed ({exc})')
    return url


def _redis_url(check: _Checker, url: str) -> str:
    """An empty `url` (no distributed mode) or one redis-py can parse; reaching Redis is a later step."""
    if not url:
        return url
    from redis.connection import parse_url

    try:
        parse_url(url)
    except ValueError as exc:
        shown = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)  # no password in a message
        check.fail(f'crawl.redis_url "{shown}": {exc} (e.g. "redis://10.0.0.5:6379/0")')
    return url


def _host(check: _Checker, value) -> str:
    host = check.string("output.host", value).strip()
    if not host or any(c.isspace() or c in "/[]" for c in host):
        check.fail(f'output.host: {value!r} is not an address to listen on (e.g. "127.0.0.1", "0.0.0.0" or "::")')
    return host


def _selector_problem(expression: str) -> str | None:
    """Why a `[source.selectors]` expression cannot be used, as extract.select() reads it (CSS, or XPath
    when it starts with `/` or `(`); None when it can."""
    from cssselect import SelectorError
    from parsel import Selector

    expression = expression.strip()
    if not expression:
        return "empty selector"
    xpath = expression.startswith(("/", "("))
    try:
        page = Selector(text="<html><body><p>x</p></body></html>")
        page.xpath(expression) if xpath else page.css(expression)
    except (SelectorError, ValueError) as exc:
        reason = str(exc).removeprefix("XPath error: ").split("\n")[0]
        return f"not a valid {'XPath expression' if xpath else 'CSS selector'}: {reason}"
    return None


class _Checker:
    """Type checks that raise ConfigError naming the file and key."""

    def __init__(self, label: str):
        self.label = label

    def fail(self, message: str):
        raise ConfigError(f"{self.label}: {message}")

    def keys(self, where: str, table: dict, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                place = f"{where}: " if where.startswith(("source ", "topic ")) else (f"[{where}] " if where else "")
                self.fail(f"{place}unknown key {key!r} (known: {', '.join(sorted(allowed))})")

    def table(self, where: str, value) -> dict:
        if not isinstance(value, dict):
            self.fail(f"{where}: expected a table, got {type(value).__name__}")
        return value

    def array(self, where: str, value) -> list:
        if not isinstance(value, list):
            self.fail(f"{where}: expected an array of tables ([[{where}]])")
        return value

    def string(self, where: str, value) -> str:
        if not isinstance(value, str):
            self.fail(f"{where}: expected a string, got {value!r}")
        return value

    def strings(self, where: str, value) -> list[str]:
        if isinstance(value, str):  # `keywords = "a, b"` would be one keyword "a, b": say how to write a list
            self.fail(f"{where}: expected a list of strings, got the string {value!r} (write [{value!r}])")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(f"{where}: expected a list of strings, got {value!r}")
        return value

    def positive(self, where: str, value, most: int) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            self.fail(f"{where}: expected a positive integer, got {_short(value)}")
        if value > most:
            self.fail(f"{where}: {_short(value)} is too large (at most {most})")
        return value

    def number(self, where: str, value, most: float) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= most:
            self.fail(f"{where}: expected a number from 0 to {most}, got {_short(value)}")
        return float(value)

    def boolean(self, where: str, value) -> bool:
        if not isinstance(value, bool):
            self.fail(f"{where}: expected true or false, got {value!r}")
        return value
