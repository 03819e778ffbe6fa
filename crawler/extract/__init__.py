"""Article extraction, one concern a module, in reading order.

vocabulary (what is looked for, no logic) → text, dates, language, encoding, tree (helpers) → page (one parsed page
and its metadata fields) → blocks (the block walk) → markup (the page's own container) → article (is it one?) →
external (trafilatura) → merge (both combined) → cascade (extract_body, with its fallbacks) → selectors (a source's own).
"""
