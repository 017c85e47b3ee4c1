"""The contract: schemathesis (every check, all phases) against a live `canonry serve`.

The served /openapi.json carries real examples (a library, a version, an
entry id, a diff) from the repository it serves, so the run starts from real
data, then generates more; bounded in examples (-n 5) and time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import LiveServer, published_repo, serving


def real_clock_env() -> dict[str, str]:
    """The environment without libfaketime: the tool's worker threads wait on timed conditions that
    a shifted clock never wakes, so under `faketime` the client runs on the real clock (the server
    under test keeps the shifted one)."""
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(tmp_path_factory.mktemp("contract"), published_repo) as live:
        yield live


def test_schemathesis_finds_nothing(server: LiveServer, tmp_path: Path) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    if st is None:
        pytest.fail("schemathesis is not installed (pip install -e '.[test]')")
    # 414 (a URL past 2,048 bytes) is a documented answer, which a long enough valid value meets
    statuses = '"2xx", "3xx", "401", "403", "404", "409", "414", "429", "5xx"'
    (tmp_path / "schemathesis.toml").write_text(
        f"[checks.positive_data_acceptance]\nexpected-statuses = [{statuses}]\n"
        "[checks.negative_data_rejection]\n"
        'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "414", "415", "422", "428", "429",'
        ' "5xx"]\n',
        encoding="utf-8",
    )
    proc = subprocess.run(
        [
            st,
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "5",
            "--seed",
            "1",
            "--generation-deterministic",
            "--request-timeout",
            "10",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,  # its configuration, and the example database it keeps
        env=real_clock_env(),
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "No issues found" in out, out[-12000:]
    selected = re.search(r"Operations:\s+(\d+) selected", out)
    assert selected is not None and int(selected[1]) >= 8, out[:2000]  # every GET route was exercised
    assert "Traceback" not in server.stderr()


def test_the_contract_describes_every_shape(server: LiveServer) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/openapi.json", timeout=10) as response:
        spec = json.load(response)
    schemas = spec["components"]["schemas"]
    for name in ("Libraries", "Versions", "Version", "Entries", "Entry", "Diff", "Error", "Confidence"):
        assert schemas[name]["properties"], name
        assert schemas[name]["additionalProperties"] is False, name
    assert schemas["Health"]["properties"]["serve"]["required"] == ["status", "source", "fetched_at"]
    params = {p["name"]: p for p in spec["paths"]["/diff"]["get"]["parameters"]}
    assert params["from"]["schema"]["pattern"].endswith("@(v?[1-9][0-9]{0,8}|latest)$")
    assert params["from"]["example"] == "mapping@v1" and params["to"]["example"] == "mapping@v2"
    version = {
        p["name"]: p
        for p in spec["paths"]["/libraries/{name}/versions/{version}/entries/{id}"]["get"]["parameters"]
    }
    assert (version["name"]["example"], version["version"]["example"], version["id"]["example"]) == (
        "mapping",
        "v2",
        "m0",
    )
