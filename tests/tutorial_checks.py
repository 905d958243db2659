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


def assert_lost_cell_is_measured_again(monkeypatch, module, config: dict, out: Path,
                                       where: tuple, lost: tuple, function: str,
                                       fake: dict) -> dict:
    """Delete the cells ``lost`` under the keys ``where`` of the results file at ``out``, run
    ``module.main(config)`` again with ``module.<function>`` replaced by one returning
    ``fake``: exactly one call (the first of ``lost`` alone is measured again; the others
    must come back without measuring) and the fake value stored in its place. Returns the
    resumed run's cells under ``where``."""
    def under(results: dict) -> dict:
        for key in where:
            results = results[key]
        return results

    stored = json.loads(Path(out).read_text())
    for key in lost:
        del under(stored)[key]
    Path(out).write_text(json.dumps(stored))
    calls = []
    monkeypatch.setattr(module, function, lambda *a, **k: calls.append(1) or dict(fake))
    cells = under(module.main(config))
    assert len(calls) == 1
    assert all(cells[lost[0]][k] == v for k, v in fake.items() if k != "seconds")
    return cells
