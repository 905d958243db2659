"""What every tutorial's smoke test checks the same way: a resumed run does no finished work
again, and a stored result rejudges to the summary it was written with."""

from __future__ import annotations

import json
from pathlib import Path


def forbid(monkeypatch, module, names) -> None:
    """Replace ``module``'s functions ``names`` by one that fails the test when called: a
    resumed run must not measure (train, attack) a finished cell again."""
    def must_not_run(*args, **kwargs):
        raise AssertionError("a finished cell was measured again")

    for name in names:
        monkeypatch.setattr(module, name, must_not_run)


def assert_rejudged_the_same(module, out: Path, fields=("verdict", "why", "table")) -> dict:
    """``module.resummarize`` on the JSON at ``out`` gives back the stored summary's
    ``fields``: the verdict comes from the stored numbers and the committed rule alone."""
    stored = json.loads(Path(out).read_text())
    rejudged = module.resummarize(stored, out)
    for field in fields:
        assert rejudged[field] == stored["summary"][field], field
    return rejudged
