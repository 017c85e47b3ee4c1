"""A PII scan for text that is about to be shared beyond a workspace.

It looks for e-mail addresses, phone numbers (international, and Saudi/GCC
local mobile and landline formats), IBANs (mod-97 check), Saudi national id
and iqama numbers (10 digits starting with 1 or 2, Luhn check) and payment
card numbers (13-19 digits, spaces or hyphens allowed, Luhn check).

False positives cost trust, so checksums do most of the work, digits that
belong to something larger (a decimal, a UUID, a code like C24, a date) are
not candidates, and Arabic-Indic digits are read as the digits they are.
Hits never echo the value: `masked` keeps its first and last characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

EMAIL = "e-mail address"
PHONE = "phone number"
IBAN = "IBAN"
NATIONAL_ID = "Saudi national id or iqama number"
CARD = "payment card number"

# Arabic-Indic and Extended Arabic-Indic digits read as ASCII (same length: positions hold).
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")

# Spans that look numeric but are identifiers or timestamps: blanked before the digit scans.
_NOT_NUMBERS = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"|[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?(?:\.[0-9]+)?)?"
)

# A digit run starts after no word character, no decimal point or comma, and
# no "-" that follows a letter or digit (a UUID's or a code's tail); it ends
# before no word character and no decimal continuation.
_START = r"(?<![\w.,/+])(?<![0-9A-Za-z]-)"
_END = r"(?![\w/]|[.,-][0-9])"

_EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?!\w)")
_IBAN_RE = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])"
)
_CARD_RE = re.compile(
    _START
    + r"(?:[0-9]{13,19}"  # contiguous
    + r"|[0-9]{4}(?:[ -][0-9]{4}){2}[ -][0-9]{1,7}"  # 4-4-4-4(-3)
    + r"|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5})"  # 4-6-5 (Amex), 4-6-4 (Diners)
    + _END
)
_NATIONAL_ID_RE = re.compile(_START + r"[12][0-9]{9}" + _END)
_PHONE_RES = (
    # +966 50 123 4567, 00971-4-123-4567, +1 (212) 555-0100
    re.compile(r"(?<![\w+])(?:\+|00)[1-9][0-9]{0,2}(?:[ -]?\(?[0-9]{1,4}\)?){2,5}" + _END),
    # Saudi/GCC mobile: 05X XXX XXXX
    re.compile(_START + r"05[0-9](?:[ -]?[0-9]){7}" + _END),
    # Saudi landline: 011 XXX XXXX, (013) XXX-XXXX
    re.compile(r"(?<![\w.,/+])(?:\(01[1-7]\)|01[1-7])[ -]?[0-9]{3}[ -]?[0-9]{4}" + _END),
)

# IBAN lengths of the countries most likely to appear; others: 15 to 34.
_IBAN_LENGTHS = {
    "SA": 24, "AE": 23, "BH": 22, "KW": 30, "QA": 29, "OM": 23, "JO": 30, "EG": 29, "LB": 28,
    "GB": 22, "DE": 22, "FR": 27, "NL": 18, "CH": 21, "ES": 24, "IT": 27, "TR": 26, "PK": 24,
}  # fmt: skip


@dataclass(frozen=True)
class PiiHit:
    kind: str
    start: int
    end: int
    masked: str

    def describe(self) -> str:
        article = "an" if self.kind[0] in "aeiouAEIOU" else "a"
        return f"looks like {article} {self.kind} ({self.masked})"


def luhn_ok(digits: str) -> bool:
    """The Luhn check (cards; Saudi national ids and iqamas use the same sum)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    """Country length (where known) and the ISO 13616 mod-97 check."""
    iban = candidate.replace(" ", "").upper()
    expected = _IBAN_LENGTHS.get(iban[:2])
    if (expected is not None and len(iban) != expected) or not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def mask(value: str) -> str:
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def scan(text: str, *, allow_email: bool = False) -> list[PiiHit]:
    """Every PII-looking span of text, in order, overlapping spans reported once."""
    if not any(ch.isdigit() for ch in text) and "@" not in text:
        return []
    plain = text.translate(_DIGITS)
    numeric = _NOT_NUMBERS.sub(lambda m: " " * len(m.group()), plain)
    hits: list[PiiHit] = []
    taken: list[tuple[int, int]] = []
    for kind, start, end in _candidates(plain, numeric, allow_email):
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        hits.append(PiiHit(kind, start, end, mask(text[start:end])))
    hits.sort(key=lambda h: h.start)
    return hits


def _candidates(plain: str, numeric: str, allow_email: bool) -> Iterator[tuple[str, int, int]]:
    if not allow_email:
        for m in _EMAIL_RE.finditer(plain):
            yield EMAIL, m.start(), m.end()
    for m in _IBAN_RE.finditer(plain):
        if iban_ok(m.group()):
            yield IBAN, m.start(), m.end()
    for m in _CARD_RE.finditer(numeric):
        digits = re.sub(r"[^0-9]", "", m.group())
        if len(set(digits)) > 1 and luhn_ok(digits):
            yield CARD, m.start(), m.end()
    for m in _NATIONAL_ID_RE.finditer(numeric):
        if luhn_ok(m.group()):
            yield NATIONAL_ID, m.start(), m.end()
    for pattern in _PHONE_RES:
        for m in pattern.finditer(numeric):
            digits = re.sub(r"[^0-9]", "", m.group())
            if 9 <= len(digits) <= 15:
                yield PHONE, m.start(), m.end()
