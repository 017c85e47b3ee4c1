"""Rebuild cases.json from a checkout of the yaml-test-suite `data` branch.

    git clone --branch data-2022-01-17 https://github.com/yaml/yaml-test-suite /tmp/yts
    python tests/yaml-test-suite/bundle.py /tmp/yts > tests/yaml-test-suite/cases.json

Only what the conformance test reads is kept: each case's name (`===`), its input
(`in.yaml`), the expected value (`in.json`, when the suite gives one) and whether it
is an error case (`error`). The suite's events and emitter outputs are left out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(root: Path) -> None:
    cases: dict[str, dict[str, object]] = {}
    for yaml_file in sorted(root.glob("*/in.yaml")) + sorted(root.glob("*/*/in.yaml")):
        folder = yaml_file.parent
        rel = folder.relative_to(root).as_posix()
        if rel.startswith(("name/", "tags/")):
            continue
        case: dict[str, object] = {
            "name": (folder / "===").read_text(encoding="utf-8").strip(),
            "yaml": yaml_file.read_bytes().decode("utf-8"),
            "error": (folder / "error").exists(),
        }
        if (folder / "in.json").exists():
            case["json"] = (folder / "in.json").read_bytes().decode("utf-8")
        cases[rel] = case
    json.dump(dict(sorted(cases.items())), sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
