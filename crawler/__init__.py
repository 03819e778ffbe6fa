"""refeed's crawler: the Scrapy project that turns aggregator pages into stored articles."""
