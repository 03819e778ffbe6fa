"""crawler/scrapy_shim.py's SlotKeepingDownloader: a site gets at most CONCURRENT_REQUESTS_PER_DOMAIN requests at a
time, on as many connections, under the asyncio reactor (tests/test_scrapy_shim.py pins the Scrapy version)."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = 12
PER_DOMAIN = 2

CRAWL = """
import sys, scrapy
from scrapy.crawler import CrawlerProcess

class Pages(scrapy.Spider):
    name = "pages"
    start_urls = [f"{sys.argv[1]}page{n}.html" for n in range(%(pages)d)]

    def parse(self, response):
        yield {"url": response.url}

settings = {"CONCURRENT_REQUESTS": 8, "CONCURRENT_REQUESTS_PER_DOMAIN": %(per_domain)d, "ROBOTSTXT_OBEY": False,
            "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor", "LOG_LEVEL": "ERROR",
            "TELNETCONSOLE_ENABLED": False}
if sys.argv[2] != "scrapy":
    settings["DOWNLOADER"] = sys.argv[2]
process = CrawlerProcess(settings)
process.crawl(Pages)
process.start()
"""


class Site:
    """Pages that each wait (at most 0.3 s) for a third request to be under way at once before they answer."""

    def __init__(self):
        self.lock = threading.Condition()
        self.under_way = self.most = 0
        self.ports: set[int] = set()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's naming
                with site.lock:
                    site.ports.add(self.client_address[1])
                    site.under_way += 1
                    site.most = max(site.most, site.under_way)
                    site.lock.notify_all()
                    site.lock.wait_for(lambda: site.under_way > PER_DOMAIN, timeout=0.3)
                    site.under_way -= 1
                body = b"<html><body><p>a page</p></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def crawl(self, downloader: str) -> None:
        code = CRAWL % {"pages": PAGES, "per_domain": PER_DOMAIN}
        done = subprocess.run([sys.executable, "-c", code, self.url, downloader], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr


@pytest.fixture
def site():
    served = Site()
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_a_site_gets_at_most_its_per_domain_requests_at_once_on_as_many_connections(site):
    site.crawl("crawler.scrapy_shim.SlotKeepingDownloader")
    assert site.most == PER_DOMAIN
    assert len(site.ports) == PER_DOMAIN  # kept alive: no connection opened beyond the slot's


def test_scrapys_own_downloader_still_needs_the_shim(site):
    """When this fails, Scrapy counts a slot's requests itself under asyncio: drop SlotKeepingDownloader."""
    site.crawl("scrapy")
    assert site.most > PER_DOMAIN
