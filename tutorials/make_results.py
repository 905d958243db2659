"""Build docs/RESULTS.md from the tutorials' JSON outputs in tutorials/results/.

Every number in docs/RESULTS.md comes from a JSON file that a tutorial wrote, and every
paper number from tutorials/paper_numbers/; each section names the command that
produced it and the scale of both sides. Verdicts are computed by the tutorials from
those numbers under the rule files of paper_numbers/rules/, with the rule stated beside
each, never typed.
Sections measured outside the paper's setting (MNIST for the CIFAR tables of Gupta &
Ajanthan) read "not comparable: different setting" at the top, their findings beside.

    python tutorials/make_results.py                  # from the results written so far
    python tutorials/make_results.py --run            # run every tutorial first
    python tutorials/make_results.py --run --dry-run  # list what --run would run
    python tutorials/make_results.py --rejudge        # recompute every verdict first

``--run`` runs each tutorial's default command in the papers' order (which is also an
order that trains every shared model once: Table 6 trains the clean and PGD-trained
models, Table 1 the FGSM-trained ones), stopping at the first failure. Each tutorial
resumes from its results file, so a finished one costs seconds and an interrupted
``--run`` picks up where it stopped. ``--rejudge`` recomputes each tutorial's summary
and verdict from its stored results (its ``resummarize``) under the rule files as they are
now, without training or attacking anything: a rule changed after its result says so in
its ``changes``, which the section prints. From an empty model cache on 2 CPU cores expect
several hours, most of it training; with the models cached, each tutorial stays under
its header's estimate.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import _common
from _common import render
from tfbnn.data import cifar10_title

HERE = Path(__file__).parent
RESULTS = HERE / "results"
PAPERS = HERE / "paper_numbers"
OUT = HERE.parent / "docs" / "RESULTS.md"


def load(name: str):
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


MNIST_NOT_CIFAR = "MNIST CNNs, not the paper's CIFAR-10/100 networks"
SECTIONS = [
    # (results file, paper, title while not run, command[, how the setting differs]),
    # in the papers' order; a section measured outside the paper's setting is "not
    # comparable" at the top level, with its finding kept beside it
    ("galloway2018_clean_variants.json", "Galloway et al. 2018", "Table 6 (clean test error)",
     "python tutorials/galloway2018_clean_variants.py"),
    ("galloway2018_table1.json", "Galloway et al. 2018", "Table 1 (FGSM on A, B, C and '+')",
     "python tutorials/galloway2018_fgsm_tables.py --table 1"),
    ("galloway2018_table2.json", "Galloway et al. 2018", "Table 2 (FGSM on PGD-trained '+*')",
     "python tutorials/galloway2018_fgsm_tables.py --table 2"),
    ("galloway2018_estimators.json", "Galloway et al. 2018",
     "Which straight-through estimator gives the FGSM-robust B",
     "python tutorials/galloway2018_estimators.py"),
    ("galloway2018_cw_jsma.json", "Galloway et al. 2018", "Table 3, Figure 2, JSMA, S under EOT",
     "python tutorials/galloway2018_cw_jsma.py"),
    ("galloway2018_substitute.json", "Galloway et al. 2018",
     "Table 4 (substitute black-box transfer)", "python tutorials/galloway2018_substitute.py"),
    ("galloway2018_cifar_substitute.json", "Galloway et al. 2018",
     f"Table 5 (substitute black-box transfer on {cifar10_title()} oracles)",
     "python tutorials/galloway2018_cifar_substitute.py"),
    ("galloway2018_and_toy.json", "Galloway et al. 2018", "Figures 3 and 4 (AND toy MLP)",
     "python tutorials/galloway2018_and_toy.py"),
    ("galloway2018_logits.json", "Galloway et al. 2018",
     "Figure 5 (logits under FGSM by temperature)", "python tutorials/galloway2018_logits.py"),
    ("gupta2022_cifar_models.json", "Gupta & Ajanthan 2022",
     "Table 1, clean accuracy (the CIFAR networks)", "python tutorials/gupta2022_cifar_models.py"),
    ("gupta2022_cifar_masking.json", "Gupta & Ajanthan 2022",
     f"Table 1 and Figure 1, ResNet-18 and VGG-16 on {cifar10_title()}: PGD with restarts "
     "and the gradient-masking checks", "python tutorials/gupta2022_cifar_masking.py"),
    ("gupta2022_cifar_attack_strength.json", "Gupta & Ajanthan 2022",
     f"Tables 2 and 3, ResNet-18 and VGG-16 on {cifar10_title()}: FGSM/PGD vs FGSM++/PGD++",
     "python tutorials/gupta2022_cifar_attack_strength.py"),
    ("gupta2022_cifar_adv_trained.json", "Gupta & Ajanthan 2022",
     f"Table 4, PGD-trained ResNet-18 on {cifar10_title()}: FGSM/PGD, beta = 0.1, DeepFool, "
     "BBA vs FGSM++/PGD++", "python tutorials/gupta2022_cifar_adv_trained.py"),
    ("gupta2022_cifar_apgd_square.json", "Gupta & Ajanthan 2022",
     f"Tables 5 and 8, ResNet-18 and VGG-16 on {cifar10_title()}: PGD++ vs the DLR loss, "
     "APGD and Square", "python tutorials/gupta2022_cifar_apgd_square.py"),
    ("gupta2022_cifar_timing.json", "Gupta & Ajanthan 2022",
     f"Table 7, ResNet-18 on {cifar10_title()}: cost of FGSM++ relative to FGSM",
     "python tutorials/gupta2022_cifar_timing.py"),
    ("gupta2022_cifar100.json", "Gupta & Ajanthan 2022",
     "Table 9 (CIFAR-100 REF networks): FGSM/PGD vs FGSM++/PGD++",
     "python tutorials/gupta2022_cifar100.py"),
    ("gupta2022_cifar_peers.json", "Gupta & Ajanthan 2022",
     f"Tables 10 and 11 on {cifar10_title()}: DeepFool, BBA and CLEVER against PGD++",
     "python tutorials/gupta2022_cifar_peers.py"),
    ("gupta2022_cifar_signal.json", "Gupta & Ajanthan 2022",
     f"Tables 12, 13 and 14, ResNet-18 on {cifar10_title()}: PGD++ against rho, signal "
     "propagation", "python tutorials/gupta2022_cifar_signal.py"),
    ("gupta2022_masking_checks.json", "Gupta & Ajanthan 2022", "Table 1 and Figure 1",
     "python tutorials/gupta2022_masking_checks.py", MNIST_NOT_CIFAR),
    ("gupta2022_attack_strength.json", "Gupta & Ajanthan 2022", "Tables 2, 3 and 8 pattern",
     "python tutorials/gupta2022_attack_strength.py", MNIST_NOT_CIFAR),
    ("gupta2022_attack_comparison.json", "Gupta & Ajanthan 2022", "Tables 4, 5 and 8 pattern",
     "python tutorials/gupta2022_attack_comparison.py", MNIST_NOT_CIFAR),
    ("gupta2022_timing.json", "Gupta & Ajanthan 2022", "Table 7 (time per adversarial example)",
     "python tutorials/gupta2022_timing.py", MNIST_NOT_CIFAR + " on 2 CPU cores, not an RTX 2080"),
    ("gupta2022_rho_ablation.json", "Gupta & Ajanthan 2022", "Tables 12 and 14 (rho ablations)",
     "python tutorials/gupta2022_rho_ablation.py", MNIST_NOT_CIFAR),
    ("gupta2022_signal_propagation.json", "Gupta & Ajanthan 2022", "Table 13, Figures 4 and 5",
     "python tutorials/gupta2022_signal_propagation.py", MNIST_NOT_CIFAR),
    ("gupta2022_mlp_flip_rate.json", "Gupta & Ajanthan 2022", "Figure 2 (5x100 binary MLP)",
     "python tutorials/gupta2022_mlp_flip_rate.py",
     "no IPROP (the paper's combinatorial attack) in tfbnn; PGD against PGD++ is kept as "
     "a finding only"),
    ("gupta2022_exact_gap.json", "Gupta & Ajanthan 2022",
     "Figure 2 against the truth (attacks vs exact robust accuracy of small BNNs)",
     "python tutorials/gupta2022_exact_gap.py"),
    ("gupta2022_step_size.json", "Gupta & Ajanthan 2022", "Figure 3 (PGD step-size sweep)",
     "python tutorials/gupta2022_step_size.py", MNIST_NOT_CIFAR),
]
SECTIONS = [entry if len(entry) == 5 else (*entry, None) for entry in SECTIONS]
"""Every tutorial's results file; one not written yet is listed as "not run"."""
FULL_SECTIONS = [
    ("gupta2022_exact_gap_full.json", "Gupta & Ajanthan 2022",
     "Figure 2 against the truth, --full (60 s per example; eps 0.1 and 0.3)",
     "python tutorials/gupta2022_exact_gap.py --full "
     "--out tutorials/results/gupta2022_exact_gap_full.json", None),
]
"""Results of a tutorial's ``--full`` scale, kept beside its default-scale section when
one has been run: rendered and rejudged like the others, never run by ``--run`` (which
runs the default scale) and not listed as "not run" when absent."""


def section(result: dict | None, title: str,
            command: str) -> tuple[list[str], str | None, str]:
    """(Markdown lines, verdict or None when not run, title) of one loaded results file."""
    summary = (result or {}).get("summary")
    if not summary:
        return [f"## {title}", "", f"Not run yet at its default scale: `{command}`.", ""], None, title
    return render(summary, plot_dir="../tutorials/results/"), summary["verdict"], summary["title"]


def _unprefixed(title: str) -> str:
    """'Galloway et al., Table 1 (FGSM ...)' -> 'Table 1 (FGSM ...)'."""
    for prefix in ("Galloway et al., ", "Gupta & Ajanthan, "):
        title = title.removeprefix(prefix)
    return title


def _short(title: str) -> str:
    """'Galloway et al., Table 1 (FGSM ...)' -> 'Table 1'; a ``--full`` section keeps its
    mark, so that it does not read as a repeat of its default-scale one."""
    full = " (--full)" if title.endswith(" (--full)") else ""
    return _unprefixed(title).split(" (")[0] + full


CIFAR_CLAIMS = {
    "gupta2022_cifar_models.json": "the networks reach the paper's clean accuracy (Table 1)",
    "gupta2022_cifar_masking.json": "the BNNs keep more PGD accuracy than REF, with 1 and 20 "
                                    "restarts, and the masking checks flag them (Table 1, "
                                    "Figure 1)",
    "gupta2022_cifar_attack_strength.json": "FGSM++/PGD++ leave the BNNs about 0 % where "
                                            "FGSM/PGD leave 27-78 % (Tables 2, 3)",
    "gupta2022_cifar_adv_trained.json": "on PGD-trained networks PGD++ beats FGSM, PGD, "
                                        "beta = 0.1, DeepFool and BBA (Table 4)",
    "gupta2022_cifar_apgd_square.json": "PGD++ is at least as strong as the DLR loss, "
                                        "APGD-DLR and Square (Tables 5, 8)",
    "gupta2022_cifar_timing.json": "FGSM++ NJS costs about as much as FGSM, HNS about 6x "
                                   "(Table 7)",
    "gupta2022_cifar100.json": "FGSM++/PGD++ beat FGSM/PGD on CIFAR-100 REF (Table 9)",
    "gupta2022_cifar_peers.json": "PGD++ beats DeepFool and BBA on BNN-WAQ, and the "
                                  "temperature lowers CLEVER scores (Tables 10, 11)",
    "gupta2022_cifar_signal.json": "PGD++ is stable to rho and the temperature improves "
                                   "signal propagation (Tables 12-14)",
}
"""Each CIFAR section of Gupta & Ajanthan, as the claim its rule tests (the rule files of
paper_numbers/rules/ state it in full), for the one-paragraph summary."""
_HOLDS = {"reproduced": "holds", "not reproduced": "does not hold (a magnitude misses)",
          "refuted": "does not hold (goes the other way)",
          "inconclusive": "undecided (inside the noise)",
          "not comparable": "not comparable (another setting, or saturated)"}


def _cifar_paragraph(loaded: dict) -> str:
    """One paragraph: which of Gupta & Ajanthan's CIFAR claims hold at the scale run,
    grouped by the verdict each section computed, with that scale read from its results
    (``loaded``: results file name -> its results, None when not run)."""
    groups: dict[str, list[str]] = {}
    scales = set()
    for name, claim in CIFAR_CLAIMS.items():
        result = loaded.get(name) or {}
        verdict = (result.get("summary") or {}).get("verdict")
        groups.setdefault(_HOLDS.get(verdict, "not run"), []).append(claim)
        config = result.get("config") or {}
        if verdict and "width" in config:
            scales.add(f"width {config['width']}, {config.get('epochs')} epochs")
    order = list(_HOLDS.values()) + ["not run"]
    parts = [f"{key[0].upper() + key[1:]}: {'; '.join(groups[key])}"
             for key in order if key in groups]
    scale = (f" ({', '.join(sorted(scales))}; test images, seeds and the "
             "data each section states)") if scales else ""
    return (f"Gupta & Ajanthan on {cifar10_title()}, at the scale run{scale}, claim by "
            "claim, as each CIFAR section below computed it. " + ". ".join(parts) + ".")


def _overview(verdicts: list) -> str:
    """One paragraph: what holds and what does not, per paper, from the computed verdicts."""
    sentences = []
    for paper in dict.fromkeys(p for p, *_ in verdicts):
        groups: dict[str, list[str]] = {}
        for p, title, verdict, differs in verdicts:
            if p == paper:
                key = (verdict or "not run") if differs is None else (
                    f"not comparable, different setting (in tfbnn's: {verdict or 'not run'})")
                groups.setdefault(key, []).append(_short(title))
        parts = [f"{verdict}: {'; '.join(items)}" for verdict, items in groups.items()]
        sentences.append(f"{paper}: " + ". ".join(parts) + ".")
    return ("What holds and what does not, as computed by each tutorial from the paper's "
            "numbers and tfbnn's at the scale stated in its section (MNIST, or the CIFAR-10 "
            "JPEG stand-in for the CIFAR networks; 2 CPU cores). "
            + " ".join(sentences) + " The words, as tutorials/_verdicts.py applies each rule "
            "of tutorials/paper_numbers/rules/: 'refuted', some claim goes the other way beyond "
            "the noise (of training seeds and test images); 'not reproduced', a magnitude lies "
            "outside the paper's own spread; 'inconclusive', some claim lies inside the noise; "
            "'not comparable', a different setting, or every cell saturated at 0 or 100 %. "
            "Results of one training seed (before the seeded reruns) say so in their section: "
            "their noise leaves out the spread between training runs. Each section says which "
            "check failed and by how much.")


def main() -> Path:
    parts, verdicts = [], []
    known = {name for name, *_ in SECTIONS + FULL_SECTIONS}
    extra = [(p.name, "Other results", p.stem, f"see {p.name}", None)
             for p in sorted(RESULTS.glob("*.json")) if p.name not in known
             and "summary" in json.loads(p.read_text())]
    full = [entry for entry in FULL_SECTIONS if load(entry[0])]
    ordered = []  # each --full section right after its tutorial's default one
    for entry in SECTIONS:
        script = entry[3].split()[1]
        ordered += [entry] + [f for f in full if f[3].split()[1] == script]
    loaded = {}
    for name, paper, title, command, differs in ordered + extra:
        loaded[name] = load(name)
        lines, verdict, full_title = section(loaded[name], title, command)
        if (name, paper, title, command, differs) in full:
            full_title += " (--full)"
            lines[0] += " (--full)"
        if differs is not None:
            lines[1:1] = ["", f"Setting: {differs}. At the top level this section reads "
                              "\"not comparable: different setting\"; its verdict below is the "
                              "finding in tfbnn's setting."]
        parts += lines
        verdicts.append((paper, full_title, verdict, differs))
    same = [v for v in verdicts if v[3] is None]
    other = [v for v in verdicts if v[3] is not None]
    head = ["# Results", "",
            "Generated by `python tutorials/make_results.py` from `tutorials/results/*.json`; "
            "do not edit by hand. Each section names the tutorial that produced it.", "",
            _overview(verdicts), "", _cifar_paragraph(loaded), "",
            "### Measured in the paper's setting", "",
            "| paper | what | verdict |", "|---|---|---|"]
    head += [f"| {paper} | {_unprefixed(what)} | {verdict or 'not run'} |"
             for paper, what, verdict, _ in same]
    if other:
        head += ["", "### The same claims outside the paper's setting", "",
                 "Not comparable with the paper's numbers; the finding in tfbnn's setting is "
                 "kept beside it.", "",
                 "| paper | what | how the setting differs | verdict | finding in tfbnn's "
                 "setting |", "|---|---|---|---|---|"]
        head += [f"| {paper} | {_unprefixed(what)} | {differs} | not comparable: different "
                 f"setting | {verdict or 'not run'} |"
                 for paper, what, verdict, differs in other]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".md.tmp")
    tmp.write_text("\n".join(head + [""] + parts))
    tmp.replace(OUT)
    return OUT


def rejudge() -> list[str]:
    """Recompute the summary (and verdict) of every results file from the numbers it
    holds, with its tutorial's ``resummarize(results, out)``; nothing is trained or
    attacked. Returns the files rewritten."""
    done = []
    for name, _, _, command, _ in SECTIONS + FULL_SECTIONS:
        path = RESULTS / name
        if not path.is_file():
            continue
        module = importlib.import_module(Path(shlex.split(command)[1]).stem)
        text = path.read_text()
        results = json.loads(text)
        results["summary"] = module.resummarize(results, path)
        _common.save(path, results, indent=1 if text.startswith("{\n") else None)
        done.append(name)
    return done


def run_all(dry_run: bool = False) -> None:
    """Run every tutorial's default command (`SECTIONS`), in order; stop at a failure."""
    root = HERE.parent
    for name, _, _, command, _ in SECTIONS:
        argv = shlex.split(command)
        argv[0] = sys.executable
        print(("would run: " if dry_run else "running: ") + command, flush=True)
        if dry_run:
            continue
        started = time.time()
        code = subprocess.call(argv, cwd=root)
        if code:
            raise SystemExit(f"{command} failed with exit code {code}; its finished results "
                             f"are kept in tutorials/results/{name}, rerun --run to resume.")
        print(f"done in {time.time() - started:.0f} s: {command}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true",
                        help="run every tutorial at its default scale first")
    parser.add_argument("--dry-run", action="store_true", help="with --run: only list them")
    parser.add_argument("--rejudge", action="store_true",
                        help="recompute every verdict from the stored results first")
    args = parser.parse_args()
    if args.dry_run and not args.run:
        parser.error("--dry-run goes with --run")
    if args.run:
        run_all(dry_run=args.dry_run)
    if args.rejudge and not args.dry_run:
        print("rejudged", ", ".join(rejudge()) or "nothing")
    if not args.dry_run:
        print("wrote", main())
