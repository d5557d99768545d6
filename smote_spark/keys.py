"""Row keys: a seeded 64-bit key per row of a class, the same in Spark and on the driver.

A row's key is Spark's ``xxhash64(h, copy)``, where ``h = xxhash64(seed, features...)``
hashes the row's content and ``copy`` (1, 2, ...) numbers rows of equal content. Identical
rows are interchangeable, so it does not matter which of them gets which number. LSH mode
numbers them with a window in Spark; exact mode collects the class and numbers them with
numpy, where `row_keys` repeats Spark's hash bit for bit (a test holds the two equal).
"""

from __future__ import annotations

import numpy as np
from pyspark.sql import Column
from pyspark.sql import functions as F

# XXH64's primes, and the seed Spark's xxhash64 starts from.
_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5
_SPARK_SEED = 42


def content_hash(seed: int, names: list[str]) -> Column:
    """``h``: the hash of a row's feature columns ``names`` under the run's seed."""
    return F.xxhash64(F.lit(seed), *names)


def row_key(content: Column, copy: Column) -> Column:
    """The key of copy number ``copy`` (an int column) of the content hashed as ``content``."""
    return F.xxhash64(content, copy.cast("int"))


def row_keys(content: np.ndarray, copy: np.ndarray) -> np.ndarray:
    """`row_key` on the driver: int64 hashes ``content`` and copy numbers ``copy``."""
    with np.errstate(over="ignore"):
        hashed = _hash_long(content.astype(np.int64).view(np.uint64), np.uint64(_SPARK_SEED))
        return _hash_int(copy.astype(np.int64).astype(np.uint64), hashed).view(np.int64)


def _rotate(x: np.ndarray, bits: int) -> np.ndarray:
    return (x << np.uint64(bits)) | (x >> np.uint64(64 - bits))


def _avalanche(h: np.ndarray) -> np.ndarray:
    h = (h ^ (h >> np.uint64(33))) * np.uint64(_P2)
    h = (h ^ (h >> np.uint64(29))) * np.uint64(_P3)
    return h ^ (h >> np.uint64(32))


def _hash_long(value: np.ndarray, seed: np.ndarray | np.uint64) -> np.ndarray:
    """XXH64 of one 8-byte little-endian word (Spark's ``hashLong``)."""
    h = seed + np.uint64((_P5 + 8) % 2**64)
    h = h ^ (_rotate(value * np.uint64(_P2), 31) * np.uint64(_P1))
    return _avalanche(_rotate(h, 27) * np.uint64(_P1) + np.uint64(_P4))


def _hash_int(value: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """XXH64 of one 4-byte little-endian word (Spark's ``hashInt``)."""
    h = seed + np.uint64((_P5 + 4) % 2**64)
    h = h ^ ((value & np.uint64(0xFFFFFFFF)) * np.uint64(_P1))
    return _avalanche(_rotate(h, 23) * np.uint64(_P2) + np.uint64(_P3))
