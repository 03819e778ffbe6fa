"""Which URLs refeed may request: http(s) only, on the source's own site, private networks only for sources there."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.reactor import is_reactor_installed
from twisted.internet.error import DNSLookupError
from twisted.names import client, dns
from twisted.names.error import DNSQueryTimeoutError, DomainError, ResolverError

from crawler.canonical import same_site, site
from crawler.config import ConfigError

__all__ = ["PolicyResolver", "UrlPolicy", "UrlPolicyMiddleware", "network"]

logger = logging.getLogger(__name__)

SCHEMES = ("http", "https")


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
    source may reach; a redirect must stay on the site of the URL that answered it. The source may reach the public
    network and the networks its start URLs are on, their names resolved the first time (then kept for the crawl:
    a source's own name that later points elsewhere does not take it there). A host name other than the start URLs'
    is resolved first and refused when it points at another network. That look-up is not the download's: the
    PolicyResolver checks the address the download then connects to against the same networks (a name may answer
    otherwise a moment later). Off with REFEED_URL_POLICY.
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
        host = (site(url) or ("", None))[0]
        if _address(host.strip("[]")) is not None:
            return None  # an address, already judged as such
        reach = await self._reachable(policy)
        if host not in policy.hosts:
            refused = sorted(await self._kinds_of(host) - reach)
            if refused:
                return f"{host} resolves to a {refused[0]} address, and the source is not on one"
        resolver = installed_resolver()
        if resolver is not None:
            resolver.allow(host, reach)  # the download connects only to an address on these
        return None

    async def _reachable(self, policy: UrlPolicy) -> set[str]:
        """The networks the source may reach: public, and those its start URLs are on."""
        reach = set(policy.networks)
        for own in policy.hosts:
            reach |= await self._kinds_of(own)
        return reach

    async def _kinds_of(self, host: str) -> frozenset[str]:
        """The networks a host name's addresses are on (as the resolver answers first; remembered for the crawl)."""
        kinds = self._kinds.get(host)
        if kinds is None:
            if _address(host.strip("[]")) is not None:
                return frozenset({network(host)})
            resolver = installed_resolver()
            addresses = await (resolver.addresses(host) if resolver is not None else system_addresses(host))
            kinds = frozenset(map(network, addresses)) | {network(host)}
            if addresses:  # a failed look-up is tried again next time
                self._kinds[host] = kinds
        return kinds


async def system_addresses(host: str) -> list[str]:
    """Every address the system's resolver gives a name (none when it does not resolve)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:  # does not resolve: the download fails on its own
        return []
    return [str(info[4][0]).partition("%")[0] for info in infos]


def installed_resolver() -> PolicyResolver | None:
    """The PolicyResolver this process's reactor connects with, if it is the one (TWISTED_DNS_RESOLVER)."""
    if not is_reactor_installed():
        return None
    from twisted.internet import reactor

    resolver = getattr(reactor, "resolver", None)
    return resolver if isinstance(resolver, PolicyResolver) else None


class PolicyResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, with every answer checked before a download connects to it.

    A name may lead a connection only to an address on a network the UrlPolicyMiddleware allowed it: the public
    one, unless a source that lives elsewhere asked for the name. Anything else (DNS rebinding: a name that answered
    a public address when the middleware checked it and answers 127.0.0.1 now) is refused and logged, and the
    download fails as if the name did not resolve. Addresses written as such in a URL are the middleware's alone.

    REFEED_NAMESERVERS ("host:port, …") asks those DNS servers instead of the system's resolver, for the
    middleware's look-ups and the downloads' alike. Off with REFEED_URL_POLICY, as the middleware.
    """

    def __init__(self, reactor, cache_size: int, timeout: float, nameservers: Iterable[tuple[str, int]] = (), enforce: bool = True):
        super().__init__(reactor, cache_size, timeout)
        self.names = client.Resolver(servers=list(nameservers), reactor=reactor) if nameservers else None
        self.enforce = enforce
        self._allowed: dict[str, set[str]] = {}  # host name → the networks its addresses may be on

    @classmethod
    def from_crawler(cls, crawler, reactor):
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        nameservers = [_nameserver(value) for value in settings.getlist("REFEED_NAMESERVERS")]
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), nameservers, settings.getbool("REFEED_URL_POLICY", True))

    def allow(self, host: str, kinds: Iterable[str]) -> None:
        """Let `host` lead to addresses on these networks (added to what other sources allowed it)."""
        self._allowed.setdefault(_name(host), set()).update(kinds)

    async def addresses(self, host: str) -> list[str]:
        """Every IPv4 address `host` has now, unchecked (none when it does not resolve)."""
        if self.names is None:
            return await system_addresses(host)
        try:
            answers, _, _ = await maybe_deferred_to_future(self.names.lookupAddress(host, (self.timeout,)))
        except (DomainError, DNSQueryTimeoutError, ResolverError):
            return []
        return [answer.payload.dottedQuad() for answer in answers if answer.type == dns.A]

    def getHostByName(self, name: str, timeout=()):  # noqa: N802 - Twisted's naming
        if self.names is None:
            found = super().getHostByName(name, timeout)
        else:
            found = self.names.getHostByName(name, (self.timeout,))
            found.addErrback(_not_found, name)
        if self.enforce:
            found.addCallback(self._checked, name)
        return found

    def _checked(self, address: str, name: str) -> str:
        if _address(name.strip("[]")) is not None:
            return address
        kind, allowed = network(address), self._allowed.get(_name(name), {"public"})
        if kind in allowed:
            return address
        logger.warning("refused to connect to %s at %s: a %s address, and the source is not on one", name, address, kind)
        raise DNSLookupError(f"{name} resolves to a {kind} address ({address}), and the source is not on one")


def _name(host: str) -> str:
    return host.rstrip(".").lower()


def _not_found(failure, name: str):
    failure.trap(DomainError, DNSQueryTimeoutError, ResolverError)
    raise DNSLookupError(f"{name}: {failure.value}")


def _nameserver(value: str) -> tuple[str, int]:
    """"127.0.0.1:5353" → ("127.0.0.1", 5353); the port is 53 when left out."""
    host, _, port = value.strip().partition(":")
    port = port or "53"
    if not isinstance(_address(host), ipaddress.IPv4Address) or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"environment: REFEED_NAMESERVERS={value!r}: an IPv4 address with an optional :port, comma-separated")
    return host, int(port)
