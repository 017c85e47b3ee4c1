"""Compact binary values for derived indexes: named byte fields, keyed tables, number arrays.

Derived indexes are fetched from remotes, so their readers take untrusted
bytes: nothing here runs code while decoding (no marshal, no pickle), every
length is checked against the bytes it claims, and a malformed value raises
PackedError. Opening a value costs a copy of its arrays (C speed); a lookup in
a keyed table is a bisection over sorted 64-bit key hashes, so a reader that
needs 150 keys of a 100,000-key table decodes 150 rows, not 100,000.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import struct
from array import array
from collections.abc import Iterator, Mapping
from typing import Any

FIELDS_MAGIC = b"CPF1"
TABLE_MAGIC = b"CKT1"


class PackedError(ValueError):
    """Bytes that are not the packed value they claim to be."""


def pack_fields(fields: Mapping[str, bytes]) -> bytes:
    """Named byte strings as one value: magic, count, (name, length) per field, then the data by name."""
    names = sorted(fields)
    head = [FIELDS_MAGIC, struct.pack("<I", len(names))]
    for name in names:
        raw = name.encode("utf-8")
        head.append(struct.pack("<H", len(raw)) + raw + struct.pack("<Q", len(fields[name])))
    return b"".join(head) + b"".join(bytes(fields[n]) for n in names)


def unpack_fields(data: bytes | memoryview) -> dict[str, memoryview]:
    """The fields of a packed value (views into data); PackedError when it does not add up."""
    view = memoryview(data)
    if bytes(view[:4]) != FIELDS_MAGIC or len(view) < 8:
        raise PackedError("not a packed value")
    (count,) = struct.unpack_from("<I", view, 4)
    at, lengths = 8, []
    try:
        for _ in range(count):
            (size,) = struct.unpack_from("<H", view, at)
            name = bytes(view[at + 2 : at + 2 + size]).decode("utf-8")
            (length,) = struct.unpack_from("<Q", view, at + 2 + size)
            lengths.append((name, length))
            at += 2 + size + 8
    except (struct.error, UnicodeDecodeError):
        raise PackedError("a truncated field table") from None
    out: dict[str, memoryview] = {}
    for name, length in lengths:
        if at + length > len(view) or name in out:
            raise PackedError(f"field {name!r} runs past the end or repeats")
        out[name] = view[at : at + length]
        at += length
    if at != len(view):
        raise PackedError("bytes after the last field")
    return out


def numbers(kind: str, data: bytes | memoryview) -> array[Any]:
    """An array of machine numbers ('I', 'Q', 'd') from its bytes (little-endian machines write them)."""
    out = array(kind)
    if len(data) % out.itemsize:
        raise PackedError(f"{len(data)} bytes is not a whole number of {kind!r} items")
    out.frombytes(bytes(data))
    return out


def key_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


class KeyedTable(Mapping[str, Any]):
    """A read-only {str: JSON value}: rows sorted by the 64-bit hash of their key.

    `encode` writes it; opening it copies two arrays; `get` bisects the hashes and
    decodes only the rows whose hash matches (the key itself is compared too).
    """

    def __init__(self, data: bytes | memoryview) -> None:
        fields = unpack_fields(data)
        try:
            self._hashes = numbers("Q", fields["hashes"])
            self._offsets = numbers("I", fields["offsets"])
            self._rows = bytes(fields["rows"])
        except KeyError as exc:
            raise PackedError(f"a keyed table without {exc}") from None
        if bytes(fields.get("magic", b"")) != TABLE_MAGIC or len(self._offsets) != len(self._hashes) + 1:
            raise PackedError("not a keyed table")

    @staticmethod
    def encode(mapping: Mapping[str, Any]) -> bytes:
        rows = sorted((key_hash(k), k) for k in mapping)
        offsets, parts, at = array("I", [0]), [], 0
        for _, key in rows:
            raw = key.encode("utf-8") + b"\0" + json.dumps(mapping[key], ensure_ascii=False).encode("utf-8")
            parts.append(raw)
            at += len(raw)
            offsets.append(at)
        return pack_fields(
            {
                "magic": TABLE_MAGIC,
                "hashes": array("Q", (h for h, _ in rows)).tobytes(),
                "offsets": offsets.tobytes(),
                "rows": b"".join(parts),
            }
        )

    def _row(self, i: int) -> tuple[str, Any]:
        start, stop = self._offsets[i], self._offsets[i + 1]
        if not start <= stop <= len(self._rows):
            raise PackedError("a row outside the table")
        key, sep, value = self._rows[start:stop].partition(b"\0")
        try:
            if not sep:
                raise ValueError
            return key.decode("utf-8"), json.loads(value)
        except (ValueError, RecursionError):
            raise PackedError("an unreadable row") from None

    def __getitem__(self, key: str) -> Any:
        h = key_hash(key)
        i = bisect.bisect_left(self._hashes, h)
        while i < len(self._hashes) and self._hashes[i] == h:
            name, value = self._row(i)
            if name == key:
                return value
            i += 1
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (self._row(i)[0] for i in range(len(self._hashes)))

    def __len__(self) -> int:
        return len(self._hashes)

    def rows(self) -> Iterator[tuple[str, Any]]:
        """Every (key, value), in table order (decodes all of them)."""
        return (self._row(i) for i in range(len(self._hashes)))
