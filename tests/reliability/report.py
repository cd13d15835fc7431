"""Print the figures the reliability suites recorded (`make test` collects them) as a Markdown table,
the form docs/reliability.md keeps them in."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(path: str) -> int:
    source = Path(path)
    if not source.exists():
        print("reliability: no figures recorded (the reliability suites did not run)")
        return 0
    print("\n| suite | figures |\n| --- | --- |")
    for line in source.read_text(encoding="utf-8").splitlines():
        figures = json.loads(line)
        suite = figures.pop("suite")
        print(f"| {suite} | {', '.join(f'{key}: {value}' for key, value in figures.items())} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "var/reliability-figures.jsonl"))
