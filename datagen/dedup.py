"""Exact and near-duplicate removal over normalised requests.

Exact: the normalised text (lower case, punctuation and runs of space removed) is the key.
Near: Jaccard similarity of word 2-gram + character 4-gram shingles, found with MinHash and LSH
banding (no dependency: 64 salted blake2b hashes per row), then verified exactly before removing.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)

NUM_PERM = 64
BANDS = 16  # 16 bands x 4 rows: pairs above ~0.6 Jaccard collide in some band with high probability


def normalise(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def shingles(text: str) -> set[str]:
    norm = normalise(text)
    words = norm.split()
    grams = {" ".join(words[i:i + 2]) for i in range(max(1, len(words) - 1))}
    grams |= {"#" + norm[i:i + 4] for i in range(max(1, len(norm) - 3))}
    return grams


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _minhash(items: set[str]) -> list[int]:
    """64 min-hashes: blake2b gives 8 uint64 per call, salted 8 ways."""
    sig = [2**64 - 1] * NUM_PERM
    for item in items:
        data = item.encode()
        values: list[int] = []
        for salt in _SALTS:
            values.extend(struct.unpack("<8Q", hashlib.blake2b(data, digest_size=64, salt=salt).digest()))
        sig = [min(s, v) for s, v in zip(sig, values)]
    return sig


_SALTS = [i.to_bytes(16, "little") for i in range(NUM_PERM // 8)]


@dataclass
class DedupReport:
    kept: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)
    """A few (removed, kept) pairs of near duplicates, for the card."""


def dedup(queries: Iterable[str], threshold: float = 0.8) -> tuple[list[int], DedupReport]:
    """Indices of the queries to keep (first occurrence wins) and what was removed."""
    report = DedupReport()
    seen_exact: set[str] = set()
    buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    kept_shingles: dict[int, set[str]] = {}
    kept_text: dict[int, str] = {}
    keep: list[int] = []
    rows = NUM_PERM // BANDS
    for idx, query in enumerate(queries):
        key = normalise(query)
        if key in seen_exact:
            report.exact_duplicates += 1
            continue
        sh = shingles(query)
        sig = _minhash(sh)
        bands = [(b, struct.pack(f"<{rows}Q", *sig[b * rows:(b + 1) * rows])) for b in range(BANDS)]
        candidates = {j for band in bands for j in buckets.get(band, ())}
        twin = next((j for j in sorted(candidates) if jaccard(sh, kept_shingles[j]) >= threshold), None)
        if twin is not None:
            report.near_duplicates += 1
            if len(report.examples) < 5:
                report.examples.append((query, kept_text[twin]))
            continue
        seen_exact.add(key)
        keep.append(idx)
        kept_shingles[idx] = sh
        kept_text[idx] = query
        for band in bands:
            buckets[band].append(idx)
    report.kept = len(keep)
    return keep, report
