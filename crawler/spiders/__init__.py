"""refeed's spiders: one per site model, plus the configurable ones."""
