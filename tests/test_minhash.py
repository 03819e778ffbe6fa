"""crawler.dedup's own MinHash gives datasketch's hash values bit for bit, so stored signatures and bands stay valid."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.dedup import _SEED, BANDS, NUM_PERM, ROWS, NearSignature, _permutations, minhash, near_signature, shingles, tokens

WORDS = st.sampled_from(["the", "mayor", "said", "on", "Tuesday", "Köln", "città", "über", "河流", "2022", "a", "an", "of"])
TEXTS = st.lists(st.one_of(WORDS, st.text(min_size=1, max_size=12)), min_size=0, max_size=400).map(" ".join)


def datasketch_signature(text: str) -> NearSignature | None:
    """near_signature as refeed computed it with datasketch (MinHash(num_perm=128, seed=_SEED), update_batch)."""
    words = tokens(text)
    if len(words) < 10:
        return None
    reference = MinHash(num_perm=NUM_PERM, seed=_SEED)
    reference.update_batch([s.encode("utf-8") for s in set(shingles(words))])
    return NearSignature(reference.hashvalues.astype(np.uint64))


def datasketch_bands(signature: NearSignature) -> list[int]:
    """The LSH bands as refeed computed them before they were cached."""
    out = []
    for band in range(BANDS):
        chunk = signature.hashvalues[band * ROWS:(band + 1) * ROWS].astype(np.uint64).tobytes()
        out.append(struct.unpack(">q", hashlib.blake2b(chunk, digest_size=8).digest())[0])
    return out


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_signature_of_any_text_is_datasketchs(text):
    ours, reference = near_signature(text), datasketch_signature(text)
    if reference is None:
        assert ours is None
        return
    assert ours.hashvalues.dtype == reference.hashvalues.dtype == np.uint64
    assert np.array_equal(ours.hashvalues, reference.hashvalues)
    assert ours.to_bytes() == reference.to_bytes()
    assert ours.bands == datasketch_bands(reference)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=300), st.integers(0, 2**32 - 1), st.sampled_from([1, 16, 128, 256]))
def test_minhash_of_any_bytes_seed_and_size_is_datasketchs(values, seed, num_perm):
    reference = MinHash(num_perm=num_perm, seed=seed)
    reference.update_batch(values)
    ours = minhash(values, *_permutations(num_perm, seed))
    assert ours.dtype == reference.hashvalues.dtype
    assert np.array_equal(ours, reference.hashvalues)


def test_signature_survives_the_store_round_trip():
    signature = near_signature(" ".join(f"word{n}" for n in range(200)))
    again = NearSignature.from_bytes(signature.to_bytes())
    assert np.array_equal(again.hashvalues, signature.hashvalues) and again.bands == signature.bands
