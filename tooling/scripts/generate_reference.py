#!/usr/bin/env python3
"""Write the reference content of the non-mapping libraries.

    PYTHONPATH=tooling python tooling/scripts/generate_reference.py [--root DIR] [--check] [--prune]

The seed content of this repository's assumptions, scenario-patterns,
occupation-bridge, nationality-classification, calibration-notes,
engagement-memory and overrides libraries lives here as data, so that it is
reviewable and reproducible: ids are deterministic UUIDv7 (see
generate_mapping.uuid7_for) over the library name and the entry's natural key,
and files are written with the canonical dumper. Running it again changes
nothing. Files it did not write are left alone unless `--prune` is given
(stewards add entries through drafts). `--check` writes nothing and exits 1
when a file differs.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # this folder, and tooling/ for canonry

from canonry.store.yamlio import dump_yaml  # noqa: E402
from generate_mapping import GENERATED_AT, REPO, WORKSPACE, uuid7_for  # noqa: E402

ECONOMICS = "economics-steward@example.org"
MAPPING = "mapping-steward@example.org"
WORKFORCE = "workforce-steward@example.org"

# Engagements the content below comes from (ids as the engagement system writes them).
ENG_HOUSING = "ENG-2024-011"
ENG_STEEL = "ENG-2024-019"
ENG_SOLAR = "ENG-2025-003"
ENG_TOURISM = "ENG-2025-008"
ENG_HEALTH = "ENG-2025-014"
ENG_LOGISTICS = "ENG-2025-021"


def workspace_of(engagement: str) -> str:
    return "ws-" + engagement.lower()


def _id(library: str, *key: Any) -> str:
    return uuid7_for(library, *("" if k is None else str(k) for k in key))


def reference_entry(entry_id: str, updated_at: str = GENERATED_AT, **fields: Any) -> dict[str, Any]:
    """An entry of the shared reference content (not from one engagement)."""
    return {
        "id": entry_id,
        "workspace_id": WORKSPACE,
        "source_engagement_id": None,
        "reuse_scope": "GLOBAL_INTERNAL",
        "sanitized_for_promotion": True,
        "source": fields.pop("source", "admin"),
        "updated_at": updated_at,
        **fields,
    }


def engagement_entry(
    entry_id: str, engagement: str, updated_at: str, shared: bool, **fields: Any
) -> dict[str, Any]:
    """An entry from one engagement: workspace-only, or sanitized and shared."""
    return {
        "id": entry_id,
        "workspace_id": None if shared else workspace_of(engagement),
        "source_engagement_id": engagement,
        "reuse_scope": "SANITIZED_GLOBAL" if shared else "WORKSPACE_ONLY",
        "sanitized_for_promotion": shared,
        "source": fields.pop("source", "user"),
        "updated_at": updated_at,
        **fields,
    }


# --- assumptions --------------------------------------------------------------

SUT = "National supply and use tables, 2018 base year (statistics authority), "
USD_OUTPUT = "jobs per million USD of output"

# (type, sector, default, (min, max), unit, rationale, source, confidence)
NUMERIC_ASSUMPTIONS: list[tuple[str, str | None, float, tuple[float, float], str, str, str, float]] = [
    (
        "IMPORT_SHARE",
        "F41",
        0.35,
        (0.2, 0.55),
        "share of project spending",
        "Building construction buys most cement, steel and labour locally; fit-out materials,"
        " lifts and MEP equipment are largely imported.",
        SUT + "construction column: imported intermediate inputs over total intermediate"
        " inputs; checked against two housing engagements.",
        0.85,
    ),
    (
        "IMPORT_SHARE",
        "C25",
        0.45,
        (0.3, 0.65),
        "share of project spending",
        "Fabricated metal manufacturing relies on imported plate, sections and machining"
        " equipment; domestic steel covers long products only.",
        SUT + "manufacturing of fabricated metal products; industrial survey 2022.",
        0.8,
    ),
    (
        "IMPORT_SHARE",
        "C24",
        0.4,
        (0.25, 0.6),
        "share of project spending",
        "Basic metals plants import process equipment (furnaces, casters, rolling stands)"
        " while civil works and utilities are local.",
        SUT + "basic metals column; equipment import statistics by HS chapter 84.",
        0.75,
    ),
    (
        "IMPORT_SHARE",
        "D35",
        0.6,
        (0.4, 0.8),
        "share of project spending",
        "Utility-scale solar and combined-cycle plants import modules, inverters and turbines;"
        " balance of plant and civil works are local.",
        SUT + "electricity column, updated with calibration from a solar PV engagement.",
        0.8,
    ),
    (
        "IMPORT_SHARE",
        None,
        0.3,
        (0.15, 0.5),
        "share of final demand",
        "Economy-wide average import content of final demand; use only when no sector default applies.",
        SUT + "total imports over total final demand.",
        0.7,
    ),
    (
        "JOBS_COEFF",
        "F41",
        18.5,
        (10.0, 30.0),
        USD_OUTPUT,
        "Building construction is labour-intensive: site trades dominate employment.",
        "Labour force survey 2023 (construction employment) over construction gross output"
        " from national accounts, converted at the average exchange rate.",
        0.8,
    ),
    (
        "JOBS_COEFF",
        "K64",
        5.2,
        (3.0, 9.0),
        USD_OUTPUT,
        "Banking output is high per worker; branch networks raise the coefficient, digital banks lower it.",
        "Central bank annual statistics (banking employment) over financial services output"
        " from national accounts.",
        0.75,
    ),
    (
        "JOBS_COEFF",
        "I55",
        22.0,
        (14.0, 32.0),
        USD_OUTPUT,
        "Hotels need many service staff per room; luxury segments need more.",
        "Tourism satellite account 2022: accommodation employment over accommodation output.",
        0.7,
    ),
    (
        "JOBS_COEFF",
        "C24",
        3.1,
        (1.5, 5.0),
        USD_OUTPUT,
        "Basic metals are capital-intensive; output per worker is high.",
        "Industrial survey 2022: basic metals employment over gross output.",
        0.75,
    ),
    (
        "DEFLATOR",
        None,
        0.02,
        (0.0, 0.1),
        "fraction per year",
        "Converts nominal project spending to constant prices of the base year.",
        "GDP deflator, average annual change over the last ten years (national accounts).",
        0.85,
    ),
    (
        "WAGE_GROWTH",
        None,
        0.03,
        (0.0, 0.08),
        "fraction per year",
        "Nominal wage growth used to project labour income over the operation phase.",
        "Labour force survey wage series, 2015-2023 average.",
        0.7,
    ),
    (
        "LOCAL_CONTENT",
        "F41",
        0.55,
        (0.35, 0.75),
        "share of contract value",
        "Local content of building contracts under the local content regulations; higher"
        " for public housing programmes.",
        "Local content authority baseline assessments for construction contracts.",
        0.75,
    ),
    (
        "DISCOUNT_RATE",
        None,
        0.08,
        (0.03, 0.12),
        "fraction per year",
        "Real social discount rate for present values of impacts.",
        "Ministry of finance guidance on appraisal of public investment projects.",
        0.8,
    ),
    (
        "NATIONALIZATION_RATE",
        "F41",
        0.12,
        (0.05, 0.3),
        "share of jobs held by nationals",
        "Construction employs few nationals outside management and engineering.",
        "Labour force survey 2023: nationals' share of construction employment.",
        0.8,
    ),
    (
        "CAPACITY_UTILIZATION",
        "C23",
        0.75,
        (0.5, 0.95),
        "share of nameplate capacity",
        "Cement plants run below capacity because domestic supply exceeds demand.",
        "Industry association production and capacity statistics, 2019-2023 average.",
        0.7,
    ),
]


def assumptions() -> list[dict[str, Any]]:
    out = []
    note_for: dict[tuple[str, str | None], list[str]] = {
        ("IMPORT_SHARE", "F41"): [_id("calibration-notes", ENG_HOUSING, "F41", "import_share")],
        ("IMPORT_SHARE", "D35"): [_id("calibration-notes", ENG_SOLAR, "D35", "import_share")],
    }
    for kind, sector, default, (low, high), unit, rationale, source, conf in NUMERIC_ASSUMPTIONS:
        entry = reference_entry(
            _id("assumptions", kind, sector),
            assumption_type=kind,
            sector_code=sector,
            value_type="NUMERIC",
            default=default,
            range={"min": low, "max": high},
            unit=unit,
            rationale=rationale,
            source_reference=source,
            confidence=conf,
        )
        if (kind, sector) in note_for:
            entry["calibration_note_ids"] = note_for[(kind, sector)]
        out.append(entry)
    out.append(
        reference_entry(
            _id("assumptions", "PHASING", None),
            assumption_type="PHASING",
            sector_code=None,
            value_type="CATEGORICAL",
            default="even",
            allowed_values=["front", "even", "back"],
            unit="spending profile over the construction years",
            rationale="Without a contractor's schedule, spread capital spending evenly over"
            " the construction years; front-load for equipment-heavy projects, back-load"
            " for fit-out-heavy ones.",
            source_reference="Review of spending profiles in past engagements (engagement"
            " memory) and the ministry of finance appraisal guidance.",
            confidence=0.7,
        )
    )
    return out


# --- scenario patterns --------------------------------------------------------

SCENARIOS: list[dict[str, Any]] = [
    {
        "name": "Integrated steel mill expansion",
        "project_type": "steel-mill",
        "description": "A new melt shop and rolling mill at an existing steel complex.",
        "sector_shares": {
            "C28": 0.35,
            "C24": 0.15,
            "F41": 0.2,
            "F43": 0.1,
            "C27": 0.1,
            "M71": 0.1,
        },
        "phasing": [0.2, 0.45, 0.35],
        "import_share": 0.55,
        "usage_count": 7,
        "engagements": [ENG_STEEL, ENG_LOGISTICS],
        "scenarios": ["rebar mill base case", "flat products variant"],
        "merges": [("2025-06-10T08:00:00Z", "flat products variant", ENG_LOGISTICS, 0.91)],
    },
    {
        "name": "Utility-scale solar PV plant",
        "project_type": "solar-pv",
        "description": "Ground-mounted PV with single-axis trackers and a grid substation.",
        "sector_shares": {"C27": 0.45, "F42": 0.2, "F43": 0.15, "C25": 0.1, "M71": 0.1},
        "phasing": [0.6, 0.4],
        "import_share": 0.65,
        "usage_count": 12,
        "engagements": [ENG_SOLAR],
        "scenarios": ["600 MW PV base case", "PV with battery storage"],
        "merges": [("2025-04-02T10:30:00Z", "PV with battery storage", ENG_SOLAR, 0.88)],
    },
    {
        "name": "Affordable housing programme",
        "project_type": "housing",
        "description": "Villas and low-rise apartments with on-site infrastructure.",
        "sector_shares": {"F41": 0.65, "F43": 0.15, "C23": 0.1, "M71": 0.05, "L68": 0.05},
        "phasing": [0.15, 0.35, 0.35, 0.15],
        "import_share": 0.3,
        "usage_count": 21,
        "engagements": [ENG_HOUSING, ENG_HEALTH],
        "scenarios": ["3,000 villas", "mixed villas and apartments"],
        "merges": [
            ("2024-11-20T09:00:00Z", "mixed villas and apartments", ENG_HOUSING, 0.93),
            ("2025-07-15T13:45:00Z", "staff housing for a hospital", ENG_HEALTH, 0.86),
        ],
    },
    {
        "name": "Seawater reverse-osmosis desalination plant",
        "project_type": "desalination",
        "description": "Intake, pre-treatment, RO trains, post-treatment and storage.",
        "sector_shares": {
            "C28": 0.35,
            "F42": 0.25,
            "F43": 0.1,
            "C22": 0.1,
            "C27": 0.1,
            "M71": 0.1,
        },
        "phasing": [0.25, 0.45, 0.3],
        "import_share": 0.5,
        "usage_count": 5,
        "engagements": [ENG_LOGISTICS],
        "scenarios": ["desalination base case"],
        "merges": [],
    },
    {
        "name": "Tertiary hospital",
        "project_type": "hospital",
        "description": "A 300 to 500 bed hospital with specialist centres and equipment.",
        "sector_shares": {"F41": 0.5, "C32": 0.15, "C26": 0.1, "F43": 0.15, "M71": 0.1},
        "phasing": [0.1, 0.3, 0.4, 0.2],
        "import_share": 0.4,
        "usage_count": 9,
        "engagements": [ENG_HEALTH],
        "scenarios": ["300 beds", "500 beds with research wing"],
        "merges": [("2025-08-01T07:15:00Z", "500 beds with research wing", ENG_HEALTH, 0.9)],
    },
    {
        "name": "Logistics park",
        "project_type": "logistics-park",
        "description": "Warehouses, cold storage, truck yards and access roads.",
        "sector_shares": {
            "F41": 0.4,
            "F42": 0.25,
            "C28": 0.1,
            "F43": 0.15,
            "M71": 0.05,
            "L68": 0.05,
        },
        "phasing": [0.3, 0.5, 0.2],
        "import_share": 0.25,
        "usage_count": 4,
        "engagements": [ENG_LOGISTICS],
        "scenarios": ["logistics park phase 1"],
        "merges": [],
    },
]


def scenario_patterns() -> list[dict[str, Any]]:
    out = []
    for s in SCENARIOS:
        for what in ("sector_shares", "phasing"):
            values = s[what].values() if isinstance(s[what], dict) else s[what]
            assert math.fsum(values) == 1.0, (s["name"], what)
        out.append(
            reference_entry(
                _id("scenario-patterns", s["project_type"], s["name"]),
                updated_at="2025-09-01T00:00:00Z",
                name=s["name"],
                project_type=s["project_type"],
                description=s["description"],
                sector_shares=s["sector_shares"],
                phasing=s["phasing"],
                import_share=s["import_share"],
                usage_count=s["usage_count"],
                lineage={
                    "contributing_engagements": s["engagements"],
                    "contributing_scenarios": s["scenarios"],
                    "merge_history": [
                        {"at": at, "merged_scenario": sc, "engagement": eng, "similarity": sim}
                        for at, sc, eng, sim in s["merges"]
                    ],
                },
            )
        )
    return out


# --- occupation bridge --------------------------------------------------------

LFS = "Labour force survey 2023, employment by ISIC division and ISCO-08 major group"
BRIDGE: dict[str, tuple[dict[str, float], str]] = {
    "F41": ({"1": 0.05, "2": 0.05, "3": 0.1, "4": 0.05, "7": 0.45, "8": 0.1, "9": 0.2}, LFS),
    "F42": ({"1": 0.05, "2": 0.1, "3": 0.1, "4": 0.05, "7": 0.3, "8": 0.25, "9": 0.15}, LFS),
    "C24": ({"1": 0.05, "2": 0.1, "3": 0.15, "4": 0.05, "7": 0.25, "8": 0.35, "9": 0.05}, LFS),
    "C20": ({"1": 0.06, "2": 0.18, "3": 0.22, "4": 0.06, "7": 0.13, "8": 0.3, "9": 0.05}, LFS),
    "I55": (
        {"1": 0.05, "2": 0.03, "3": 0.07, "4": 0.15, "5": 0.5, "7": 0.05, "8": 0.02, "9": 0.13},
        LFS + "; tourism satellite account 2022",
    ),
    "Q86": ({"1": 0.04, "2": 0.38, "3": 0.3, "4": 0.1, "5": 0.1, "9": 0.08}, LFS),
    "K64": ({"1": 0.12, "2": 0.3, "3": 0.28, "4": 0.25, "5": 0.03, "9": 0.02}, LFS),
    "J62": ({"1": 0.1, "2": 0.6, "3": 0.2, "4": 0.07, "9": 0.03}, LFS),
    "G47": ({"1": 0.08, "2": 0.02, "3": 0.05, "4": 0.1, "5": 0.6, "8": 0.05, "9": 0.1}, LFS),
    "P85": ({"1": 0.05, "2": 0.7, "3": 0.08, "4": 0.07, "5": 0.04, "9": 0.06}, LFS),
}


def occupation_bridge() -> list[dict[str, Any]]:
    out = []
    for sector, (shares, source) in BRIDGE.items():
        assert math.fsum(shares.values()) == 1.0, sector
        out.append(
            reference_entry(
                _id("occupation-bridge", sector),
                updated_at="2025-05-20T00:00:00Z",
                source="import",
                sector_code=sector,
                shares=shares,
                source_reference=source,
            )
        )
    return out


# --- nationality classification -----------------------------------------------

NATIONALITY: list[tuple[str, str, str, str, str]] = [
    (
        "11",
        "Chief executives, senior officials and legislators",
        "NATIONAL_READY",
        "calibrated",
        "Nationals hold most of these posts in every engagement observed.",
    ),
    (
        "12",
        "Administrative and commercial managers",
        "NATIONAL_READY",
        "calibrated",
        "Graduate supply in business administration is ample; observed shares above 70%.",
    ),
    (
        "13",
        "Production and specialised services managers",
        "NATIONAL_WITH_TRAINING",
        "assumed",
        "Plant and site management needs years of sector experience few nationals"
        " have yet; management trainee programmes close the gap.",
    ),
    (
        "21",
        "Science and engineering professionals",
        "NATIONAL_WITH_TRAINING",
        "calibrated",
        "Engineering graduates are available but need project experience; observed shares"
        " rise quickly with graduate programmes.",
    ),
    (
        "22",
        "Health professionals",
        "NATIONAL_WITH_TRAINING",
        "calibrated",
        "Physicians and nurses: national supply grows but specialist posts remain largely expatriate.",
    ),
    (
        "23",
        "Teaching professionals",
        "NATIONAL_READY",
        "calibrated",
        "Public education is staffed mostly by nationals.",
    ),
    (
        "24",
        "Business and administration professionals",
        "NATIONAL_READY",
        "assumed",
        "Finance, HR and marketing roles are filled from a large graduate pool.",
    ),
    (
        "25",
        "Information and communications technology professionals",
        "NATIONAL_WITH_TRAINING",
        "assumed",
        "Growing national supply; senior architects and specialists still often expatriate.",
    ),
    (
        "31",
        "Science and engineering associate professionals",
        "NATIONAL_WITH_TRAINING",
        "assumed",
        "Technicians come from technical colleges; plant-specific training needed.",
    ),
    (
        "32",
        "Health associate professionals",
        "NATIONAL_WITH_TRAINING",
        "assumed",
        "Laboratory and pharmacy technicians: training programmes exist but supply is short.",
    ),
    (
        "41",
        "General and keyboard clerks",
        "NATIONAL_READY",
        "calibrated",
        "Clerical roles are largely reserved for nationals.",
    ),
    (
        "51",
        "Personal service workers",
        "NATIONAL_WITH_TRAINING",
        "assumed",
        "Hospitality and personal services: nationalisation targets apply, wages are a barrier.",
    ),
    (
        "52",
        "Sales workers",
        "NATIONAL_READY",
        "assumed",
        "Retail sales roles are subject to nationalisation rules and filled by nationals.",
    ),
    (
        "71",
        "Building and related trades workers, excluding electricians",
        "EXPAT_DEPENDENT",
        "calibrated",
        "Site trades are filled almost entirely by expatriate workers in every construction engagement.",
    ),
    (
        "72",
        "Metal, machinery and related trades workers",
        "EXPAT_DEPENDENT",
        "assumed",
        "Welders, fitters and machinists are mostly expatriate; vocational output is small.",
    ),
    (
        "74",
        "Electrical and electronic trades workers",
        "NATIONAL_WITH_TRAINING",
        "assumed",
        "Electricians can be trained in technical colleges within two years.",
    ),
    (
        "83",
        "Drivers and mobile plant operators",
        "NATIONAL_WITH_TRAINING",
        "assumed",
        "Transport and logistics drivers: nationals enter with licensing and training schemes.",
    ),
    (
        "91",
        "Cleaners and helpers",
        "EXPAT_DEPENDENT",
        "assumed",
        "Low-wage elementary work is not taken up by nationals.",
    ),
    (
        "93",
        "Labourers in mining, construction, manufacturing and transport",
        "EXPAT_DEPENDENT",
        "calibrated",
        "Observed national share below 2% in construction and industrial engagements.",
    ),
]


def nationality_classification() -> list[dict[str, Any]]:
    return [
        reference_entry(
            _id("nationality-classification", code),
            updated_at="2025-10-05T00:00:00Z",
            occupation_code=code,
            occupation_title=title,
            feasibility_class=feasibility,
            basis=basis,
            # calibrated cells cite the nationality overrides (engagement-system export rows,
            # see `canonry learn workforce --from`) they were learned from: the evidence gate
            # needs policy.min_override_frequency of them
            evidence_override_ids=sorted(_id("nationality-override", code, k) for k in range(2))
            if basis == "calibrated"
            else [],
            rationale=rationale,
        )
        for code, title, feasibility, basis, rationale in NATIONALITY
    ]


# --- calibration notes --------------------------------------------------------

# (engagement, sector, metric, direction, magnitude, status, promoted_to, updated_at, text)
NOTES: list[tuple[str, str, str, str, float, str, str | None, str, str]] = [
    (
        ENG_HOUSING,
        "F41",
        "import_share",
        "higher",
        0.15,
        "PROMOTED",
        _id("assumptions", "IMPORT_SHARE", "F41"),
        "2024-12-10T09:00:00Z",
        "Contractor bills of quantities showed imported inputs near 40% of spending against"
        " 35% assumed: lifts, facades and MEP packages were imported. Range widened upwards.",
    ),
    (
        ENG_SOLAR,
        "D35",
        "import_share",
        "higher",
        0.2,
        "PROMOTED",
        _id("assumptions", "IMPORT_SHARE", "D35"),
        "2025-04-20T11:00:00Z",
        "PV modules, trackers and inverters were all imported; the import share of the"
        " electricity sector default understated leakage for solar projects.",
    ),
    (
        ENG_STEEL,
        "C24",
        "jobs_per_million_usd",
        "lower",
        0.2,
        "RAW",
        None,
        "2024-10-02T14:30:00Z",
        "The new mill is highly automated: operation staffing came out a fifth below the sector coefficient.",
    ),
    (
        ENG_TOURISM,
        "I55",
        "jobs_per_million_usd",
        "higher",
        0.25,
        "REVIEWED",
        None,
        "2025-05-12T10:00:00Z",
        "Luxury resorts employ more staff per room than the sector average; the"
        " coefficient understated operation jobs.",
    ),
    (
        ENG_LOGISTICS,
        "F42",
        "capex_back_share",
        "higher",
        0.3,
        "REVIEWED",
        None,
        "2025-09-03T08:45:00Z",
        "Civil works spending was back-loaded: land acquisition delays pushed most spending"
        " into the last two years.",
    ),
    (
        ENG_HEALTH,
        "K64",
        "jobs_per_million_usd",
        "lower",
        0.1,
        "DISMISSED",
        None,
        "2025-07-30T12:00:00Z",
        "A digital bank in the project financing had very few staff; a one-off, not"
        " representative of the sector.",
    ),
    (
        ENG_STEEL,
        "C20",
        "import_share",
        "as_expected",
        0.02,
        "REVIEWED",
        None,
        "2024-11-15T16:00:00Z",
        "Imported inputs of the chemical plant matched the sector default within two points.",
    ),
    (
        ENG_HEALTH,
        "Q86",
        "local_content",
        "lower",
        0.15,
        "RAW",
        None,
        "2025-08-18T09:30:00Z",
        "Medical equipment packages had almost no local content; hospital local content came"
        " out below the construction-based default.",
    ),
]


def calibration_notes() -> list[dict[str, Any]]:
    out = []
    for eng, sector, metric, direction, magnitude, status, promoted, at, text in NOTES:
        out.append(
            engagement_entry(
                _id("calibration-notes", eng, sector, metric),
                eng,
                at,
                shared=status != "RAW",
                sector_code=sector,
                metric=metric,
                direction=direction,
                magnitude=magnitude,
                observation=text,
                promotion_status=status,
                promoted_to=promoted,
            )
        )
    return out


# --- engagement memory --------------------------------------------------------

# (engagement, category, lesson, resolution, tags, status, updated_at)
LESSONS: list[tuple[str, str, str, str | None, list[str], str, str]] = [
    (
        ENG_HOUSING,
        "DATA_GAP",
        "Regional input-output tables are not published below the national level.",
        "Derive regional multipliers with the FLQ location-quotient method (delta 0.3) and"
        " record it as an assumption.",
        ["input-output", "regional", "multipliers"],
        "PROMOTED",
        "2024-12-15T10:00:00Z",
    ),
    (
        ENG_STEEL,
        "METHOD",
        "Project capex and operator revenue were both fed as final demand in the same year,"
        " double counting the impact.",
        "Model the construction and operation phases as separate scenarios and report them separately.",
        ["double-counting", "final-demand", "phases"],
        "REVIEWED",
        "2024-11-02T09:00:00Z",
    ),
    (
        ENG_TOURISM,
        "CLIENT",
        "The client read construction job-years as permanent jobs.",
        "Label construction-phase results as job-years and show operation jobs separately in every report.",
        ["jobs", "reporting"],
        "PROMOTED",
        "2025-05-20T15:00:00Z",
    ),
    (
        ENG_HEALTH,
        "TOOLING",
        "Arabic project descriptions were not matched because patterns carried diacritics.",
        "Strip Arabic diacritics from mapping patterns and normalize texts before matching.",
        ["mapping", "arabic", "normalization"],
        "REVIEWED",
        "2025-07-02T11:30:00Z",
    ),
    (
        ENG_SOLAR,
        "ASSUMPTION",
        "The sector import share understated leakage for equipment-heavy solar projects.",
        "Use the calibrated electricity import share for PV scenarios.",
        ["import-share", "solar"],
        "RAW",
        "2025-04-22T08:00:00Z",
    ),
    (
        ENG_TOURISM,
        "DATA_GAP",
        "No nationality split of hospitality employment by occupation was available.",
        None,
        ["workforce", "nationality", "hospitality"],
        "RAW",
        "2025-05-25T13:00:00Z",
    ),
    (
        ENG_LOGISTICS,
        "SCOPE",
        "Induced effects were requested late although the scope covered direct and indirect effects only.",
        "Offer induced effects as an optional Type II run with an explicit caveat at kick-off.",
        ["scope", "induced-effects"],
        "REVIEWED",
        "2025-09-10T10:00:00Z",
    ),
    (
        ENG_HOUSING,
        "GOVERNANCE",
        "Mapping corrections made in workshops were not recorded, so they could not be learned from.",
        "Record every steward correction as an override entry during the engagement.",
        ["overrides", "mapping", "workshops"],
        "PROMOTED",
        "2024-12-20T09:00:00Z",
    ),
    (
        ENG_HEALTH,
        "METHOD",
        "Equipment imports for hospitals were assigned to construction, inflating local impact.",
        "Split medical equipment packages out of the construction contract and map them to C26 and C32.",
        ["hospital", "equipment", "import-share"],
        "DISMISSED",
        "2025-08-25T14:00:00Z",
    ),
]


def engagement_memory() -> list[dict[str, Any]]:
    return [
        engagement_entry(
            _id("engagement-memory", eng, category, lesson),
            eng,
            at,
            shared=status != "RAW",
            category=category,
            lesson=lesson,
            resolution=resolution,
            tags=tags,
            promotion_status=status,
        )
        for eng, category, lesson, resolution, tags, status, at in LESSONS
    ]


# --- overrides ----------------------------------------------------------------

# (text, suggested code, suggested pattern or None, final code, engagement, steward, at)
OVERRIDES: list[tuple[str, str | None, str | None, str, str, str, str]] = [
    ("Camel milk processing plant", None, None, "C10", ENG_HOUSING, MAPPING, "2024-11-04T10:12:00Z"),
    ("Camel milk processing plant", None, None, "C10", ENG_TOURISM, MAPPING, "2025-05-06T09:40:00Z"),
    ("Camel milk processing plant", None, None, "C10", ENG_HEALTH, ECONOMICS, "2025-07-08T13:05:00Z"),
    ("Fertilizer blending and bagging plant", None, None, "C20", ENG_STEEL, MAPPING, "2024-10-21T08:30:00Z"),
    (
        "Fertilizer blending and bagging plant",
        None,
        None,
        "C20",
        ENG_LOGISTICS,
        MAPPING,
        "2025-09-02T10:00:00Z",
    ),
    ("Halal meat export abattoir", None, None, "C10", ENG_TOURISM, MAPPING, "2025-05-07T11:20:00Z"),
    ("Halal meat export abattoir", None, None, "C10", ENG_LOGISTICS, ECONOMICS, "2025-09-04T15:10:00Z"),
    ("Hospital car park structure", "Q86", "hospital", "F41", ENG_HEALTH, MAPPING, "2025-07-09T09:00:00Z"),
    ("Hospital car park structure", "Q86", "hospital", "F41", ENG_HOUSING, MAPPING, "2024-11-05T14:00:00Z"),
    ("Smart meter installation programme", None, None, "D35", ENG_SOLAR, MAPPING, "2025-04-03T10:30:00Z"),
    ("Smart meter installation programme", None, None, "D35", ENG_HOUSING, ECONOMICS, "2024-11-06T09:15:00Z"),
    (
        "Airport ground handling services",
        "H51",
        "air transport",
        "H52",
        ENG_TOURISM,
        MAPPING,
        "2025-05-08T12:00:00Z",
    ),
    (
        "Airport ground handling services",
        "H51",
        "air transport",
        "H52",
        ENG_LOGISTICS,
        MAPPING,
        "2025-09-05T09:30:00Z",
    ),
    (
        "Sports academy for youth football",
        "R93",
        "sports clubs",
        "P85",
        ENG_TOURISM,
        MAPPING,
        "2025-05-09T10:45:00Z",
    ),
    (
        "Sports academy for youth football",
        "R93",
        "sports clubs",
        "P85",
        ENG_HEALTH,
        ECONOMICS,
        "2025-07-10T11:00:00Z",
    ),
    ("Bitumen storage terminal", "C19", None, "H52", ENG_STEEL, MAPPING, "2024-10-22T13:30:00Z"),
    ("Bitumen storage terminal", "C19", None, "H52", ENG_LOGISTICS, MAPPING, "2025-09-06T08:00:00Z"),
    ("Gypsum board plant", None, None, "C23", ENG_HOUSING, MAPPING, "2024-11-07T10:00:00Z"),
    ("Gypsum board plant", None, None, "C23", ENG_STEEL, ECONOMICS, "2024-10-23T09:20:00Z"),
    ("Tyre recycling plant", "C22", "rubber tyres", "E38", ENG_LOGISTICS, MAPPING, "2025-09-07T14:15:00Z"),
    ("Tyre recycling plant", "C22", "rubber tyres", "E38", ENG_SOLAR, MAPPING, "2025-04-04T15:00:00Z"),
    ("Multi-storey car parking operator", None, None, "H52", ENG_HOUSING, MAPPING, "2024-11-08T11:40:00Z"),
    ("Multi-storey car parking operator", None, None, "H52", ENG_TOURISM, MAPPING, "2025-05-10T09:10:00Z"),
    (
        "Desalinated water transmission pipeline",
        "F42",
        "pipeline construction",
        "E36",
        ENG_SOLAR,
        ECONOMICS,
        "2025-04-05T10:20:00Z",
    ),
    (
        "Desalinated water transmission pipeline",
        "F42",
        "pipeline construction",
        "E36",
        ENG_LOGISTICS,
        MAPPING,
        "2025-09-08T10:50:00Z",
    ),
    ("Hajj tent city upgrade", None, None, "I55", ENG_TOURISM, MAPPING, "2025-05-11T08:30:00Z"),
    ("Hajj tent city upgrade", None, None, "I55", ENG_HEALTH, MAPPING, "2025-07-11T08:45:00Z"),
    ("Pharmaceutical warehouse automation", "C21", None, "H52", ENG_HEALTH, MAPPING, "2025-07-12T13:00:00Z"),
    ("Cruise berth dredging works", None, None, "F42", ENG_TOURISM, MAPPING, "2025-05-12T16:20:00Z"),
    (
        "Recycled aggregates from construction waste",
        "F41",
        None,
        "E38",
        ENG_HOUSING,
        ECONOMICS,
        "2024-11-09T12:00:00Z",
    ),
    (
        "Pilgrim shuttle trains between the holy sites",
        None,
        None,
        "H49",
        ENG_TOURISM,
        MAPPING,
        "2025-05-13T10:00:00Z",
    ),
    ("مصنع تعبئة وتغليف التمور", None, None, "C10", ENG_HOUSING, MAPPING, "2024-11-10T09:00:00Z"),
    ("مصنع تعبئة وتغليف التمور", None, None, "C10", ENG_TOURISM, MAPPING, "2025-05-14T09:30:00Z"),
    ("قاعة أفراح ومناسبات", None, None, "I56", ENG_TOURISM, MAPPING, "2025-05-15T11:00:00Z"),
    ("قاعة أفراح ومناسبات", None, None, "I56", ENG_HOUSING, MAPPING, "2024-11-11T10:30:00Z"),
    ("ورشة صيانة الطائرات", "C30", None, "C33", ENG_LOGISTICS, MAPPING, "2025-09-09T12:30:00Z"),
]


def overrides() -> list[dict[str, Any]]:
    out = []
    for text, suggested, pattern, final, eng, steward, at in OVERRIDES:
        entry = engagement_entry(
            _id("overrides", eng, text),
            eng,
            at,
            shared=False,
            text=text,
            suggested_code=suggested,
            final_code=final,
            engagement_id=eng,
            steward=steward,
            overridden_at=at,
        )
        if pattern is not None:
            language = "en" if text.isascii() else "ar"
            entry["suggested_entry_id"] = uuid7_for("mapping", language, pattern, suggested or "")
        out.append(entry)
    return out


LIBRARIES = {
    "assumptions": assumptions,
    "scenario-patterns": scenario_patterns,
    "occupation-bridge": occupation_bridge,
    "nationality-classification": nationality_classification,
    "calibration-notes": calibration_notes,
    "engagement-memory": engagement_memory,
    "overrides": overrides,
}


def build() -> dict[str, dict[str, dict[str, Any]]]:
    """Every library's entries by id."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for library, make in LIBRARIES.items():
        entries = make()
        by_id = {e["id"]: e for e in entries}
        assert len(by_id) == len(entries), f"duplicate ids in {library}"
        out[library] = by_id
    return out


def write(root: Path, check: bool = False, prune: bool = False) -> list[str]:
    """Write every library under root/knowledge; return what changed (or would)."""
    changes = []
    for library, entries in build().items():
        folder = root / "knowledge" / library
        if not check:
            folder.mkdir(parents=True, exist_ok=True)
        for entry_id, entry in sorted(entries.items()):
            path = folder / f"{entry_id}.yaml"
            text = dump_yaml(entry)
            if not path.exists() or path.read_text("utf-8") != text:
                changes.append(f"write {library}/{path.name}")
                if not check:
                    path.write_text(text, encoding="utf-8")
        if prune and folder.exists():
            for path in sorted(folder.glob("*.yaml")):
                if path.stem not in entries:
                    changes.append(f"delete {library}/{path.name}")
                    if not check:
                        path.unlink()
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPO)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    parser.add_argument("--prune", action="store_true", help="delete entries not written here")
    args = parser.parse_args(argv)
    changes = write(args.root, check=args.check, prune=args.prune)
    for change in changes:
        print(change, file=sys.stderr)
    print(f"{len(changes)} change(s)", file=sys.stderr)
    return 1 if args.check and changes else 0


if __name__ == "__main__":
    raise SystemExit(main())
