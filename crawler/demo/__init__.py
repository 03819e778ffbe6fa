"""The bundled sample aggregator site (modelled on The Limited Times) and its local server."""

import logging

from crawler.demo.site import SampleArticle, SampleSite, generate

logger = logging.getLogger(__name__)

__all__ = ["SampleArticle", "SampleSite", "SampleSiteServer", "generate"]


def __getattr__(name: str):
    # Imported lazily so that `python -m crawler.demo.server` does not import the module twice.
    if name == "SampleSiteServer":
        from crawler.demo.server import SampleSiteServer

        return SampleSiteServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
