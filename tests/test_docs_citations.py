"""No file in the repository cites a document that is not in it: the design is docs/architecture.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import ROOT

# Spelt in pieces, so that this file does not cite them itself.
GONE = ["ARCHITECTURE", "FACTS", "STYLE", "LAYOUT"]
CITATION = re.compile(r"\b(?:" + "|".join(GONE) + r")\.md\b|\.\./shared\b|\bshared/design\b")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def repository_files() -> list[Path]:
    """Tracked files and new ones not ignored (what the next commit will hold), text only."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    out = []
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if path.is_file() and b"\0" not in path.read_bytes()[:8192]:
            out.append(path)
    return out


def citations(text: str) -> list[tuple[int, str]]:
    return [(n, m.group(0)) for n, line in enumerate(text.splitlines(), 1) for m in CITATION.finditer(line)]


def test_nothing_cites_the_old_design_documents() -> None:
    found = []
    for path in repository_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{path.relative_to(ROOT)}:{n}: {what}" for n, what in citations(text)]
    assert found == [], "cite docs/architecture.md (or state the fact) instead:\n" + "\n".join(found)


def test_the_scan_sees_a_citation() -> None:
    assert citations("see " + GONE[1] + ".md") == [(1, GONE[1] + ".md")]
    assert citations("as in ../" + "shared" + "/design/x") != []
    assert citations("see docs/architecture.md") == []


def test_links_in_the_docs_name_files_that_exist() -> None:
    broken = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        in_code = False
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("```"):
                in_code = not in_code
            for target in [] if in_code else LINK.findall(line):
                if re.match(r"[a-z]+:", target) or target.startswith("#"):
                    continue
                if not (doc.parent / target.split("#")[0]).exists():
                    broken.append(f"{doc.relative_to(ROOT)}:{n}: {target}")
    assert broken == [], "links to files that are not in the repository:\n" + "\n".join(broken)


def test_the_architecture_document_exists_and_is_linked() -> None:
    assert (ROOT / "docs" / "architecture.md").is_file()
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
