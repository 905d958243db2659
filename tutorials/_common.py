"""Pieces every tutorial shares: paper numbers, resumable results, the summary that
`make_results.py` turns into a section of docs/RESULTS.md.

A tutorial's JSON holds ``{"config": ..., ..., "summary": summary(...)}``. The summary
carries the title, the command, the scale of both sides, a Markdown table putting the
paper's numbers and tfbnn's side by side, and a verdict computed by the tutorial from
those numbers with its rule stated in ``why``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tfbnn.export import atomic_write_text

HERE = Path(__file__).parent
RESULTS = HERE / "results"
VERDICTS = ("reproduced", "not reproduced", "refuted", "not comparable")


def paper(name: str) -> dict:
    """The paper numbers in ``paper_numbers/NAME.json``."""
    return json.loads((HERE / "paper_numbers" / f"{name}.json").read_text())


def load(out, config: dict) -> dict:
    """The results written earlier for the same config (a resumed run), else a fresh dict."""
    out = Path(out)
    if out.is_file():
        results = json.loads(out.read_text())
        if results.get("config") == json.loads(json.dumps(config)):
            return results
    return {"config": config}


def save(out, results: dict) -> None:
    """Write ``results`` atomically (a killed run loses nothing finished)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(results, indent=1) + "\n")


def summary(*, title: str, command: str, paper_scale: str, tfbnn_scale: str, table: list,
            verdict: str, why: str, plots: list | None = None) -> dict:
    """The section of docs/RESULTS.md for one tutorial; ``verdict`` one of `VERDICTS`."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}.")
    return {"title": title, "command": command, "paper_scale": paper_scale,
            "tfbnn_scale": tfbnn_scale, "table": list(table), "verdict": verdict, "why": why,
            "plots": list(plots or [])}


def markdown_table(header: list, rows: list) -> list:
    """Lines of a Markdown table."""
    lines = ["| " + " | ".join(map(str, header)) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return lines
