"""refeed's command line: the arguments, the logging, and which command of refeed_cli runs; never parses pages."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from crawler.config import ConfigError
from refeed_cli.commands import cmd_build, cmd_demo, cmd_export, cmd_extract, cmd_import, cmd_once, cmd_serve, cmd_worker
from refeed_cli.daemon import cmd_run
from refeed_cli.status import cmd_status
from refeed_cli.steps import EXIT_PIPE, EXIT_USAGE

os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")


# -- argument parsing


def port_number(text: str) -> int:
    """argparse type of a TCP port: 0 (any free port) to 65535."""
    if not text.strip().isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="scheduler.py", description="refeed: clean, deduplicated per-topic feeds from news aggregator sites.")
    main.add_argument("-v", "--verbose", action="store_true", help="log Scrapy's own messages too")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, func, help_text):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(func=func)
        return sub

    def with_config(sub):
        sub.add_argument("-c", "--config", metavar="FILE", help="configuration file (default: ./refeed.toml, then $REFEED_CONFIG)")
        return sub

    demo = command("demo", cmd_demo, "start the bundled sample site, crawl it, build feeds into public/ and serve them")
    demo.add_argument("--port", type=port_number, default=8080, help="port to serve the feeds on (default 8080; 0: any free port)")
    demo.add_argument("--once", action="store_true", help="exit after building the feeds")
    once = with_config(command("once", cmd_once, "crawl every (or one) source once, then build the feeds (for cron)"))
    once.add_argument("--source", metavar="NAME", help="crawl only this source")
    run = with_config(command("run", cmd_run, "the daemon: every source on its own schedule, feeds rebuilt after each crawl"))
    run.add_argument("--serve", type=port_number, metavar="PORT", help="also serve the feeds on this port (on output.host)")
    with_config(command("build", cmd_build, "rebuild the feeds from the store without crawling"))
    serve = with_config(command("serve", cmd_serve, "serve the output folder over HTTP (ETag, Last-Modified, 304, gzip)"))
    serve.add_argument("--port", type=port_number, default=8080, help="port (default 8080; 0: any free port)")
    serve.add_argument("--host", metavar="H", help="address to listen on (default: output.host, else 127.0.0.1; 0.0.0.0: every interface)")
    with_config(command("export", cmd_export, "every stored article, one JSON object a line"))
    imports = with_config(command("import", cmd_import, "the reverse of export: JSON lines (files, or stdin) into the store"))
    imports.add_argument("files", nargs="*", metavar="FILE", help="export files to read (default, or -: standard input)")
    extract = with_config(command("extract", cmd_extract, "extract articles from URLs or local HTML files without storing them"))
    extract.add_argument("targets", nargs="+", metavar="TARGET", help="URL or HTML file")
    extract.add_argument("--source", metavar="NAME", help="extract as this source's spider does")
    with_config(command("worker", cmd_worker, "distributed mode: crawl every source's rounds from the shared Redis queues; waits for more"))
    status = with_config(command("status", cmd_status, "last run of each source and each feed (and workers and queues when distributed)"))
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return main


class BriefFormatter(logging.Formatter):
    """One line a message: tracebacks only with --verbose."""

    def format(self, record):
        if record.exc_info or record.exc_text:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return super().format(record)


def setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter if verbose else BriefFormatter
    handler.setFormatter(formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for name in ("refeed", "crawler", "feeds"):
        logging.getLogger(name).setLevel(logging.INFO)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        code = args.func(args)
        if sys.stdout is not None:  # None with stdout closed (>&-)
            sys.stdout.flush()  # a reader that went away shows here, not as a message at exit
        return code
    except ConfigError as exc:
        print(f"refeed: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `export | head -1`: the reader has what it wanted; stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the flush at exit then writes nowhere
        return EXIT_PIPE


if __name__ == "__main__":
    sys.exit(main())
