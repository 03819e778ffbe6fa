"""The language a text is written in (py3langid, whose model ships in the package)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["detect_language"]

_LANGID: Any = None  # the py3langid identifier, loaded at the first text


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of a text by py3langid (its model ships in the package); None for too little text."""
    global _LANGID
    text = " ".join(text.split())[:3000]
    if len(re.findall(r"\w+", text)) < 5 and len(text) < 20:  # CJK runs are one "word" each: count characters too
        return None
    if _LANGID is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        _LANGID = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    code, probability = _LANGID.classify(text)
    return code if probability >= 0.5 and re.fullmatch(r"[a-z]{2}", code) else None
