"""The per-file pass shared with forked workers finds exactly what one process finds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from canonry.gates import entry, workers
from canonry.gates.engine import validate
from canonry.store import entries
from canonry.store.repo import Repository
from conftest import git
from helpers import mapping_entry, write_entry


def _repo(small_repo: Path) -> Path:
    for i in range(60):
        doc = mapping_entry(f"p{i:02d}", f"pattern number {i}", "C24")
        if i % 7 == 0:
            doc["confidence"] = 3  # a schema error
        write_entry(small_repo, "mapping", doc)
    folder = small_repo / "knowledge/mapping"
    (folder / "p05.yaml").write_text("id: p05\npattern: [unclosed\n")  # a syntax error
    (folder / "p06.yaml").write_text("id: other\n")  # an id that is not its name
    (folder / "Bad Name.yaml").write_text("id: x\n")
    git(small_repo, "add", "-A")
    git(small_repo, "commit", "-q", "-m", "sixty entries, some broken")
    return small_repo


def _findings(repo: Path) -> list[tuple[object, ...]]:
    entries._STORES.clear()
    entries._MEMO.clear()
    result = validate(Repository(repo), ref="main")
    return [f.as_tuple() for f in result.findings]


def _forget(repo: Path) -> None:
    import shutil

    shutil.rmtree(repo / ".git" / "canonry", ignore_errors=True)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked")
def test_workers_find_what_one_process_finds(small_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(small_repo)
    serial = _findings(repo)
    assert len(serial) >= 10
    _forget(repo)
    forks: list[int] = []
    real_fork = workers.fork

    def counting_fork(*args: object) -> object:
        forks.append(1)
        return real_fork(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(workers, "PARALLEL_MIN", 10)
    monkeypatch.setattr(workers, "worker_count", lambda files: 2)
    monkeypatch.setattr(entry, "CHUNK", 4)
    monkeypatch.setattr(entry, "fork", counting_fork)
    assert _findings(repo) == serial and forks  # shared with a forked worker, same findings, same order
    assert _findings(repo) == serial  # and what the workers cached reads back the same


@pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked")
def test_a_failing_worker_costs_time_not_findings(small_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(small_repo)
    serial = _findings(repo)
    _forget(repo)
    parent = os.getpid()
    real_send = entry.send

    def failing_send(out: int, payload: bytes) -> None:
        if os.getpid() != parent:
            raise RuntimeError("a worker that dies")
        real_send(out, payload)

    monkeypatch.setattr(workers, "worker_count", lambda files: 2)
    monkeypatch.setattr(entry, "CHUNK", 4)
    monkeypatch.setattr(entry, "send", failing_send)
    assert _findings(repo) == serial
