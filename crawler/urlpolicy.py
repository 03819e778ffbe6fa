"""Which URLs refeed may request: http(s) only, on the source's own site, private networks only for sources there."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest, NotConfigured

__all__ = ["UrlPolicy", "UrlPolicyMiddleware", "network", "same_site", "site"]

logger = logging.getLogger(__name__)

SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def site(url: str) -> tuple[str, int | None] | None:
    """(host, port) of a URL, scheme left out: http://x/ and https://x/ are one site, http://x:8080/ another.

    The port is None when it is the scheme's default. None for a URL without a host or with a bad port.
    """
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:  # "http://[::1", "http://x:99999/"
        return None
    if not host:
        return None
    if port == _DEFAULT_PORTS.get(parts.scheme.lower()):
        port = None
    return host.rstrip(".").lower(), port


def same_site(url: str, other: str) -> bool:
    here = site(url)
    return here is not None and here == site(other)


def network(host: str) -> str:
    """"loopback", "link-local", "private", "reserved" or "public": where a host name or address points.

    Names are not resolved (a public name is "public"), but every spelling of an address the resolver takes
    is read as one: `127.1`, `0x7f000001`, `2130706433`, `[::ffff:127.0.0.1]`, and `localhost` names.
    """
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    address = _address(host)
    if address is None:
        return "public"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:  # 0.0.0.0 reaches this machine too
        return "loopback"
    if address.is_link_local:  # 169.254.169.254: cloud metadata services
        return "link-local"
    if address.is_private:
        return "private"
    if address.is_multicast or address.is_reserved or not address.is_global:
        return "reserved"
    return "public"


def _address(host: str):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefx." for c in host) and any(c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))  # the legacy forms getaddrinfo still accepts
        except OSError:
            return None
    return None


class UrlPolicy:
    """The one answer to "may refeed request this URL?" for a source, given its start URLs.

    Only http(s). Loopback, link-local, private and reserved addresses only when a start URL is on one of
    the same kind (a source that lives there). `same_site`: on the host and port of a start URL.
    """

    def __init__(self, start_urls: Iterable[str]):
        start_urls = list(start_urls)
        self.sites = {s for s in map(site, start_urls) if s is not None}
        self.hosts = {host for host, _ in self.sites}
        self.networks = {"public", *(network(host) for host in self.hosts)}

    def refusal(self, url: str, same_site: bool = True) -> str | None:
        """Why `url` may not be requested, or None when it may."""
        scheme = url.strip().partition(":")[0].lower() if ":" in url else ""
        if scheme not in SCHEMES:
            return f"not an http(s) URL ({scheme or 'no'} scheme)"
        where = site(url)
        if where is None:
            return "no host, or a bad port"
        kind = network(where[0])
        if kind not in self.networks:
            return f"a {kind} address, and the source is not on one"
        if same_site and where not in self.sites:
            return "another site than the source's"
        return None

    def allowed(self, url: str, same_site: bool = True) -> bool:
        return self.refusal(url, same_site) is None

    def on_site(self, url: str) -> bool:
        """On the host and port of a start URL (any scheme)."""
        return site(url) in self.sites


class UrlPolicyMiddleware:
    """Downloader middleware: every request, redirects included, passes the spider's UrlPolicy.

    A request whatever its origin (start URL, link, feed item, robots.txt) must be http(s) on an address the
    source may reach; a redirect must stay on the site of the URL that answered it. A host name other than the
    start URLs' is resolved first: a name that points at this machine or a private network is refused like the
    address itself, unless the source's own names point there too. Off with REFEED_URL_POLICY.
    """

    def __init__(self, crawler, stats=None):
        self.crawler = crawler
        self.stats = stats
        self._kinds: dict[str, frozenset[str]] = {}  # host name → the networks of its addresses

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("REFEED_URL_POLICY", True):
            raise NotConfigured("REFEED_URL_POLICY is off")
        return cls(crawler, crawler.stats)

    async def process_request(self, request):
        spider = self.crawler.spider
        policy = getattr(spider, "policy", None) or UrlPolicy(getattr(spider, "start_urls", ()))
        redirects = request.meta.get("redirect_urls")
        reason = policy.refusal(request.url, same_site=False)
        if reason is None and redirects and not same_site(request.url, redirects[-1]):
            reason = f"a redirect from {redirects[-1]} to another site"
        if reason is None:
            reason = await self._resolved_refusal(policy, request.url)
        if reason is None:
            return None
        logger.info("refused %s: %s", request.url, reason)
        if self.stats is not None:
            self.stats.inc_value("refeed/refused")
        raise IgnoreRequest(f"refused {request.url}: {reason}")

    async def _resolved_refusal(self, policy: UrlPolicy, url: str) -> str | None:
        host = site(url)[0]
        if host in policy.hosts or _address(host.strip("[]")) is not None:
            return None  # the source's own names, and addresses (already judged as such)
        allowed = set(policy.networks)
        for own in policy.hosts:
            allowed |= await self._kinds_of(own)
        refused = sorted(await self._kinds_of(host) - allowed)
        return f"{host} resolves to a {refused[0]} address, and the source is not on one" if refused else None

    async def _kinds_of(self, host: str) -> frozenset[str]:
        """The networks a host name's addresses are on (as the resolver answers now; remembered for the crawl)."""
        kinds = self._kinds.get(host)
        if kinds is None:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except OSError:  # does not resolve: the download fails on its own
                infos = []
            kinds = self._kinds[host] = frozenset(network(info[4][0].partition("%")[0]) for info in infos) | {network(host)}
        return kinds
