"""Entry ids: UUIDv7 in lower case (time-ordered, so new files sort by creation)."""

from __future__ import annotations

import hashlib
import os
import uuid

from .times import epoch_ms_now


def uuid7(when_ms: int | None = None, entropy: bytes | None = None) -> str:
    """A UUIDv7 string; `entropy` (10+ bytes) makes it deterministic."""
    ms = epoch_ms_now() if when_ms is None else when_ms
    rand = entropy[:10] if entropy is not None else os.urandom(10)
    if len(rand) < 10:
        rand = hashlib.sha256(rand).digest()[:10]
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (int.from_bytes(rand[:2], "big") & 0x0FFF) << 64
    value |= 0b10 << 62
    value |= int.from_bytes(rand[2:10], "big") & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def deterministic_uuid7(when_ms: int, *parts: str) -> str:
    """A UUIDv7 whose random bits come from hashing parts (reproducible generators)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return uuid7(when_ms, digest)
