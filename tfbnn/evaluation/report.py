"""Writers for an evaluation report: JSON (the record), Markdown (to read), PNG plots.

The JSON follows `tfbnn.evaluation.SCHEMA`, documented in docs/evaluation.md. Plots
need matplotlib; without it the report says so and the rest is written.
"""

from __future__ import annotations

import json

from tfbnn.evaluation import certified
from tfbnn.io import atomic_path

__all__ = ["budgets", "interval", "markdown", "write"]


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def _fmt(value, spec=".3f"):
    return "" if value is None else format(value, spec)


def budgets(report: dict) -> str:
    """Every attack of the run with its budget, in order."""
    from tfbnn.evaluation.catalog import Stage

    cfg, classes = report["config"], report["model"].get("num_classes")
    stages = cfg.get("stages") or [{"attack": a, "nb_iter": cfg["nb_iter"]} for a in cfg["attacks"]]
    return "; ".join(Stage(**stage).describe(classes) for stage in stages)


def interval(values) -> str:
    """``[low, high]`` of a 95 % interval, as the report prints it."""
    return f"[{values[0]:.4f}, {values[1]:.4f}]"


def markdown(report: dict) -> str:
    cfg, model = report["config"], report["model"]
    lines = [
        f"# Robustness report{': ' + model['name'] if model.get('name') else ''}",
        "",
        f"tfbnn {report['tfbnn_version']}, {report['created']}. {report['n']} examples, "
        f"norm {cfg['norm']}, seed {cfg['seed']}, {cfg['mode']}. Version "
        f"**{cfg.get('version', 'custom')}**, attacks in order: {budgets(report)}.",
        "",
        f"**Clean accuracy {report['clean_accuracy']:.4f}** (95 % Wilson interval "
        f"{interval(report['clean_interval'])}). Robust accuracy is the per-example worst case "
        "over the attacks: an upper bound that none of them beats, not a guarantee; its "
        "interval is the sampling uncertainty of the N examples.",
        "",
    ]
    lines += [f"- {note}" for note in model.get("notes", [])]
    if model.get("notes"):
        lines.append("")
    lines += ["| eps | robust accuracy (worst case) | 95 % interval |", "|---:|---:|---:|"]
    lines += [f"| {r['eps']:g} | **{r['robust_accuracy']:.4f}** | {interval(r['robust_interval'])} |"
              for r in report["results"]]
    for r in report["results"]:
        standalone = cfg["mode"] == "standalone"
        lines += [
            "", f"## eps = {r['eps']:g} ({r['norm']})", "",
            "| attack | attacked | fooled | accuracy after | "
            + ("own accuracy | " if standalone else "")
            + f"mean / max {r['norm']} of successes | loss unmoved | seconds |",
            "|---|---:|---:|---:|" + ("---:|" if standalone else "") + "---:|---:|---:|",
        ]
        for a in r["attacks"]:
            size = (a["mean_linf"], a["max_linf"]) if r["norm"] == "linf" else (a["mean_l2"], a["max_l2"])
            unmoved = a["loss_unmoved_fraction"]
            lines.append(
                f"| {a['name']} | {a['attacked']} | {a['fooled']} | {a['accuracy_after']:.4f} | "
                + (f"{a['accuracy']:.4f} | " if standalone else "")
                + f"{_fmt(size[0], '.4f')} / {_fmt(size[1], '.4f')} | "
                + ("" if unmoved is None else f"{unmoved:.1%}") + f" | {a['seconds']} |")
        stuck = [a["name"] for a in r["attacks"]
                 if a["loss_unmoved_fraction"] is not None and a["loss_unmoved_fraction"] > 0.5]
        if stuck:
            lines += ["", f"Attacks that did not move the loss on most examples they attacked: "
                          f"{', '.join(stuck)}. Their failure is not evidence of robustness."]
    if "diagnostics" in report:
        lines += ["", "## Gradient-masking diagnostics", "", report["verdict"], "",
                  "| check | verdict | explanation |", "|---|---|---|"]
        lines += [f"| {c['name']} | {c['verdict']} | {_cell(c['explanation'])} |"
                  for c in report["diagnostics"]]
        signal = next((c for c in report["diagnostics"] if c["name"] == "signal_propagation"
                       and c["verdict"] != "SKIP"), None)
        if signal:
            lines += ["", "Signal propagation (Gupta & Ajanthan, Table 13), mean over examples:",
                      "", "| temperature | JSV mean | JSV std | ‖ψ‖ | ‖∂ℓ/∂x‖ | ‖sign(∂ℓ/∂x)‖ |",
                      "|---|---:|---:|---:|---:|---:|"]
            for name, s in signal["data"].items():
                lines.append(f"| {name} | {s['jsv_mean']:.3g} | {s['jsv_std']:.3g} | "
                             f"{s['psi_norm']:.3g} | {s['grad_norm']:.3g} | "
                             f"{s['sign_grad_norm']:.3g} |")
    lines += certified.markdown_lines(report)
    for plot in report.get("plots", []):
        lines += ["", f"![{plot}]({plot})"]
    return "\n".join(lines) + "\n"


def _plots(run, report) -> list:
    try:
        from matplotlib.figure import Figure  # no pyplot: the user's backend stays as it is
    except ImportError:
        return []
    written = []
    for check, xlabel, log in (("iterations", "PGD iterations", True),
                               ("radius", "eps", False)):
        c = next((c for c in report.get("diagnostics", []) if c["name"] == check
                  and c["verdict"] != "SKIP"), None)
        if c is None:
            continue
        xs = c["data"]["iterations" if check == "iterations" else "eps"]
        fig = Figure(figsize=(4, 3))
        ax = fig.subplots()
        ax.plot(xs, c["data"]["accuracy"], marker="o")
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("accuracy under PGD")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{check}: {c['verdict']}")
        fig.tight_layout()
        name = f"diagnostic_{check}.png"
        with atomic_path(run.path / name) as tmp:
            fig.savefig(tmp, dpi=100)
        written.append(name)
    return written + certified.plots(run, report)


def write(run, report: dict) -> None:
    """Write plots, ``report.md`` and, last, ``report.json`` (marking the run finished)."""
    report["plots"] = _plots(run, report)
    run.write("report.md", markdown(report))
    run.write("report.json", json.dumps(report, indent=2) + "\n")
