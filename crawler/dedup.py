"""Fingerprints of article text: exact (normalised tokens) and near (MinHash with LSH bands)."""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash

__all__ = [
    "NearSignature",
    "exact_fingerprint",
    "jaccard",
    "near_signature",
    "title_similarity",
    "tokens",
    "NUM_PERM",
    "BANDS",
]

NUM_PERM = 128
BANDS = 32  # 32 bands x 4 rows: pairs above ~0.45 Jaccard become candidates
ROWS = NUM_PERM // BANDS
SHINGLE = 5
MIN_TOKENS = 40  # shorter texts (teasers) are not signed; they match on URL or exact text only
_SEED = 20220108
_WORD = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    return _WORD.findall((text or "").casefold())


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
        out = []
        for band in range(BANDS):
            chunk = self.hashvalues[band * ROWS:(band + 1) * ROWS].astype(np.uint64).tobytes()
            digest = hashlib.blake2b(chunk, digest_size=8).digest()
            out.append(struct.unpack(">q", digest)[0])
        return out

    def to_bytes(self) -> bytes:
        return self.hashvalues.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> NearSignature:
        return cls(np.frombuffer(blob, dtype="<u4").astype(np.uint64))

    def similarity(self, other: NearSignature) -> float:
        return float(np.count_nonzero(self.hashvalues == other.hashvalues)) / NUM_PERM


def near_signature(text: str) -> NearSignature | None:
    words = tokens(text)
    if len(words) < MIN_TOKENS:
        return None
    shingles = {" ".join(words[i:i + SHINGLE]).encode("utf-8") for i in range(len(words) - SHINGLE + 1)}
    minhash = MinHash(num_perm=NUM_PERM, seed=_SEED)
    minhash.update_batch(list(shingles))
    # MinHash values are < 2**32 (Mersenne-prime hashing); keep them as uint32 on disk.
    return NearSignature(minhash.hashvalues.astype(np.uint64))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def title_similarity(a: str, b: str) -> float:
    return jaccard(set(tokens(a)), set(tokens(b)))
