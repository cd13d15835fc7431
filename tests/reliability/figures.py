"""Figures the reliability suites print, and append to a file when `DSO_RELIABILITY_FIGURES` names one
(`make reliability` collects them into docs/reliability.md)."""

from __future__ import annotations

import json
import os


def record_figures(suite: str, figures: dict) -> None:
    line = {"suite": suite, **figures}
    print(f"\nreliability: {json.dumps(line)}")
    target = os.environ.get("DSO_RELIABILITY_FIGURES")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
