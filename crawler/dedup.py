"""Fingerprints of article text: exact (normalised tokens), near (MinHash with LSH bands), teaser keys, and the verdict."""

from __future__ import annotations

import functools
import hashlib
import re
import struct
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Match",
    "NearSignature",
    "compare",
    "exact_fingerprint",
    "jaccard",
    "lead_keys",
    "looks_truncated",
    "minhash",
    "near_signature",
    "probe_keys",
    "title_similarity",
    "tokens",
    "NUM_PERM",
    "BANDS",
]

NUM_PERM = 128
BANDS = 32  # 32 bands x 4 rows: pairs above ~0.45 Jaccard become candidates
ROWS = NUM_PERM // BANDS
SHINGLE = 5
MIN_TOKENS = 2 * SHINGLE  # shorter texts are not signed; they match on URL, exact text or teaser keys only
LEAD_WORDS = 8  # a story's lead key: its first words, so that a teaser and its full text find each other
LEAD_PROBES = 16  # a text probes lead keys at this many word offsets (a dateline or a kicker before the shared words)

# The verdict, on the exact word shingles of two texts (measured on tests/dedup_pairs.py: README, "Deduplication").
SAME_TEXT = 0.8  # Jaccard at or above which two texts are one story, whatever their titles
CONTAINED = 0.92  # share of the shorter text's words inside the longer one (a teaser, added boilerplate, edits)…
OVERLAP = 0.5  # …that is one story when the texts also overlap this much (Jaccard)…
TITLE_AGREES = 0.5  # …or their titles agree this much (word Jaccard)
MIN_CONTAINED_WORDS = 20  # a shorter text than this is too little to be judged by containment
FULLER_BY = 10  # words a copy must add to a stored text that looks cut off (a teaser) to complete it in place
_SEED = 20220108
_WORD = re.compile(r"\w+", re.UNICODE)

# MinHash as datasketch 2.0 computes it (MinHash(num_perm=NUM_PERM, seed=_SEED), its default "affine32" scheme),
# bit for bit, so that stored signatures and bands stay valid: each shingle's sha1_hash32, mixed by the
# MurmurHash3 32-bit finalizer, then permuted by a * h + b mod 2**32 with the (a, b) its RandomState(seed) draws.
# Done here in a few lines of numpy because `import datasketch` pulls in scipy (about 50 MB of RSS and half a second
# per process) for nothing refeed uses. tests/test_minhash.py holds it equal to datasketch, kept as the reference.


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np  # here, not at the top: the crawler's own process reads the store but never signs (24 MB)

    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)  # odd: a bijection
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def minhash(values, a: np.ndarray | None = None, b: np.ndarray | None = None) -> np.ndarray:
    """The uint32 MinHash values of a set of byte strings (all 2**32 - 1 for none), as datasketch's MinHash gives them."""
    import numpy as np

    if a is None or b is None:
        a, b = _default_permutations()
    sha1 = hashlib.sha1
    digests = b"".join([sha1(value).digest()[:4] for value in values])  # datasketch's sha1_hash32, little-endian
    if not digests:
        return np.full(len(a), np.iinfo(np.uint32).max, dtype=np.uint32)
    h = np.frombuffer(digests, dtype="<u4").astype(np.uint32)
    h ^= h >> np.uint32(16)  # MurmurHash3's 32-bit finalizer (wrapping uint32 arithmetic, as intended)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return (h[:, None] * a + b).min(axis=0)


@functools.cache
def _default_permutations() -> tuple[np.ndarray, np.ndarray]:
    return _permutations(NUM_PERM, _SEED)


def tokens(text: str) -> list[str]:
    return list(_tokens(text or ""))


@functools.lru_cache(maxsize=64)  # one article's text is tokenised by several layers in a row
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.casefold()))


def exact_fingerprint(title: str, text: str) -> str:
    """Same words in the same order, whatever the whitespace, case or punctuation."""
    body = " ".join(tokens(text)) or " ".join(tokens(title))
    return hashlib.sha1(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NearSignature:
    hashvalues: np.ndarray  # NUM_PERM uint64 values

    @property
    def bands(self) -> list[int]:
        """One 63-bit integer per LSH band (fits a signed BIGINT column)."""
        return list(self._bands)

    @functools.cached_property  # Deduplicate looks the bands up, Store writes them: hashed once
    def _bands(self) -> tuple[int, ...]:
        import numpy as np

        raw, size = self.hashvalues.astype(np.uint64).tobytes(), 8 * ROWS
        blake2b = hashlib.blake2b
        return tuple(struct.unpack(">q", blake2b(raw[i:i + size], digest_size=8).digest())[0] for i in range(0, BANDS * size, size))

    def to_bytes(self) -> bytes:
        return self.hashvalues.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> NearSignature:
        import numpy as np

        return cls(np.frombuffer(blob, dtype="<u4").astype(np.uint64))

    def similarity(self, other: NearSignature) -> float:
        import numpy as np

        return float(np.count_nonzero(self.hashvalues == other.hashvalues)) / NUM_PERM


def shingles(words: Sequence[str]) -> list[str]:
    """Every run of SHINGLE consecutive words, in order (one, the whole text, when it is shorter)."""
    if len(words) <= SHINGLE:
        return [" ".join(words)] if words else []
    return list(map(" ".join, zip(*(words[i:] for i in range(SHINGLE)))))


@functools.lru_cache(maxsize=8)  # a new text is signed, then compared with each of its candidates: shingled once
def _shingled(text: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """A text's shingles in order, and as a set."""
    grams = tuple(shingles(_tokens(text)))
    return grams, frozenset(grams)


def near_signature(text: str) -> NearSignature | None:
    words = tokens(text)
    if len(words) < MIN_TOKENS:
        return None
    import numpy as np

    # MinHash values are < 2**32; kept as uint32 on disk.
    return NearSignature(minhash(s.encode("utf-8") for s in _shingled(text or "")[1]).astype(np.uint64))


def jaccard(a: AbstractSet, b: AbstractSet) -> float:
    if not a and not b:
        return 1.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def title_similarity(a: str, b: str) -> float:
    return jaccard(set(tokens(a)), set(tokens(b)))


def _key(kind: str, words: list[str]) -> int:
    digest = hashlib.blake2b(f"{kind}:{' '.join(words)}".encode(), digest_size=8).digest()
    return struct.unpack(">q", digest)[0]


def lead_keys(title: str, text: str) -> list[int]:
    """What a story is indexed under for teasers: its normalised title and its first LEAD_WORDS words."""
    keys = [_key("title", tokens(title))]
    words = tokens(text)
    if len(words) >= LEAD_WORDS:
        keys.append(_key("lead", words[:LEAD_WORDS]))
    return keys


def probe_keys(title: str, text: str) -> list[int]:
    """The keys a new text looks up: its title, and its words at each of the first LEAD_PROBES offsets."""
    words = tokens(text)
    leads = [_key("lead", words[i:i + LEAD_WORDS]) for i in range(min(LEAD_PROBES, len(words) - LEAD_WORDS + 1))]
    return list(dict.fromkeys([_key("title", tokens(title)), *leads]))


_TRUNCATED = re.compile(r"(\.\.\.|…|\[\.\.\.\]|\[…\]|\w)\s*$")


def looks_truncated(text: str) -> bool:
    """A teaser: cut mid-sentence, or ending in an ellipsis."""
    return bool(_TRUNCATED.search(text or ""))


@dataclass(frozen=True)
class Match:
    """Why two texts are one story: their shingle Jaccard, how much of the shorter lies in the longer, title agreement."""

    jaccard: float
    contained: float
    title: float
    shorter: int  # words in the shorter text
    longer: int  # words in the longer text

    def __str__(self) -> str:
        return f"jaccard={self.jaccard:.2f}, contained={self.contained:.2f}, title={self.title:.2f}"


def _covered(text: str, other: frozenset[str]) -> float:
    """Share of the text's words inside a shingle that `other` has too: an edited word costs one word, not SHINGLE shingles."""
    words = _tokens(text)
    if len(words) <= SHINGLE:
        return 1.0 if " ".join(words) in other else 0.0
    covered = end = 0  # shingle j covers words j … j + SHINGLE - 1; `end`: the first word past those counted
    for j, gram in enumerate(_shingled(text)[0]):
        if gram in other:
            covered += j + SHINGLE - max(j, end)
            end = j + SHINGLE
    return covered / len(words)


def compare(title_a: str, text_a: str, title_b: str, text_b: str) -> Match | None:
    """The same story, or None. Measured on the exact shingles, never on an estimate.

    One story when the texts are nearly the same (Jaccard >= SAME_TEXT), or when the shorter
    lies almost whole in the longer (>= CONTAINED of its words: a teaser, boilerplate around
    it, a sentence or two edited) and either they overlap at least OVERLAP or the titles agree.
    A shared lede, headline, wire lead or template alone never gets there: the bodies differ.
    """
    text_a, text_b = text_a or "", text_b or ""
    a, b = _tokens(text_a), _tokens(text_b)
    if not a or not b:
        return None
    sa, sb = _shingled(text_a)[1], _shingled(text_b)[1]
    score = jaccard(sa, sb)
    short, long_set = (text_a, sb) if len(a) <= len(b) else (text_b, sa)
    contained = _covered(short, long_set)
    title = title_similarity(title_a, title_b)
    match = Match(score, contained, title, min(len(a), len(b)), max(len(a), len(b)))
    if score >= SAME_TEXT:
        return match
    if contained >= CONTAINED and min(len(a), len(b)) >= MIN_CONTAINED_WORDS and (score >= OVERLAP or title >= TITLE_AGREES):
        return match
    return None
