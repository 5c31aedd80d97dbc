"""Measure the label term and the count mixture: docs/labels.md's tables of configs/labelled.yaml.

    python scripts/labelled_names.py                  # first: the sets, into data/
    python scripts/label_term.py --sets names_by_language --weights 0 1 --epochs 10
    python scripts/label_term.py --sets names_by_language --weights 0.1 0 --seeds 43 44 --no-counts --runs r.json
    python scripts/label_term.py --model transformer --sets names_by_language --weights 0.1 0 --epochs 6
    python scripts/label_term.py --report --runs a.json b.json   # the recorded runs evaluated, one table
    python scripts/label_term.py --sets names_by_language --weights 0.1 --mixture linear   # the mixture of before

On each set (data/<set>.tsv), for each ``--model.label_weight`` in ``--weights`` (and each
``--seed_everything`` in ``--seeds``: the split stays the data's, seed 42), it fits ``--model``:
configs/labelled.yaml (``GRUCounts``: a GRU mixed with per-label trigram counts, the mixture's
weights and the label temperature chosen on val at each validation), or gru.yaml or transformer.yaml.
It evaluates each run's checkpoints in ``--checkpoints``: the best on val/nll (what labelled.yaml's
`test` is given), the best on val/accuracy, and the last (the schedule's end); a GRUCounts
checkpoint twice, as shipped (the mixture) and with ``--model.count_weight 0`` (its GRU alone, the
same weights). Beside them the labelled counting trigram (configs/counts.yaml at context 2,
smoothing chosen on val/nll as scripts/labelled_table.py does), and the baselines of
makemore_pl.baselines on the same split. Each row: val/nll, test/nll, val and test accuracy, test
ECE before and after the temperature, the fit's steps and seconds per step (validation included).
Runs fitted with several seeds get a second table: each seed's figures, their mean and spread.

Runs go to lightning_logs/labelled/; what the fits recorded to the first of ``--runs``
(lightning_logs/labelled/term.json), each evaluation to lightning_logs/labelled/evaluations.json
(a report again evaluates only what is new); the tables to stdout and beside the first of ``--runs`` (.md).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labelled_table import LOGS, MODELS, SMOOTHINGS, LabelledSet, baselines, record

from makemore_pl.data.files import write_atomic
from makemore_pl.models.mixture import MIXTURES

MODELS["labelled"] = ("configs/labelled.yaml", [])
RUNS = LOGS / "term.json"
GRU_ALONE = ["--model.count_weight", "0", "--model.count_smoothing", "1"]


def evaluate(labelled_set: LabelledSet, model: str, run: dict, extra: list[str] = ()) -> dict:
    """The checkpoint validated (which fits its label temperature on val), then tested with those weights."""
    cli = labelled_set.cli(model, True, [*run["options"], *extra], logged=False)
    (val,) = cli.trainer.validate(cli.model, datamodule=cli.datamodule, ckpt_path=run["ckpt"], verbose=False)
    (test,) = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
    figures = {"val": val["val/nll"], "val accuracy": val.get("val/accuracy"), "test": test["test/nll"]}
    figures |= {"accuracy": test["test/accuracy"], "ece": test["test/ece"]}
    figures["ece calibrated"] = test["test/ece_calibrated"]
    figures["temperature"] = float(cli.model.label_temperature)
    if hasattr(cli.model, "count_weight"):
        figures["count weight"] = float(cli.model.count_weight)
        figures["count smoothing"] = float(cli.model.count_smoothing)
    return figures


def fit_counts(labelled_set: LabelledSet) -> dict:
    """The labelled counting trigram at the smoothing with the best val/nll."""
    fits = []
    for smoothing in SMOOTHINGS:
        run = labelled_set.fit("counts", True, ["--model.smoothing", str(smoothing)])
        fits.append((evaluate(labelled_set, "counts", run)["val"], run))
    return min(fits, key=lambda f: f[0])[1]


KEY = re.compile(r"(?:(?P<model>\w+) )?weight (?P<weight>\S+?)(?: seed (?P<seed>\d+))?$")
NAMES = {"labelled": "GRUCounts", "gru": "GRU", "transformer": "Transformer"}


def checkpoints(model: str, run: dict) -> dict[str, str]:
    """The run's checkpoints by what chose them: labelled.yaml keeps best-step (val/nll), best-accuracy-step
    (val/accuracy) and last. Runs recorded before it had two monitors kept one, val/accuracy, as best-step; their
    lowest val/nll was at the schedule's end in each (their TensorBoard logs), so last is their val/nll checkpoint."""
    best = Path(run["ckpt"])
    last = str(best.with_name("last.ckpt"))
    by_accuracy = sorted(best.parent.glob("best-accuracy-step=*.ckpt"))
    if model == "labelled" and not by_accuracy:
        return {"val/nll": last, "val/accuracy": str(best)}
    return {"val/nll": str(best)} | ({"val/accuracy": str(by_accuracy[0])} if by_accuracy else {}) | {"last": last}


def cached(labelled_set: LabelledSet, model: str, run: dict, extra: list[str], cache: Path) -> dict:
    """``evaluate``, kept in ``cache`` by checkpoint and options: a report again costs no evaluation."""
    key = " ".join([run["ckpt"], *extra])
    saved = json.loads(cache.read_text()) if cache.is_file() else {}
    if key not in saved:
        figures = evaluate(labelled_set, model, run, extra)
        saved = json.loads(cache.read_text()) if cache.is_file() else {}  # another process may have written
        saved[key] = figures
        write_atomic(cache, json.dumps(saved, indent=1).encode())
    return saved[key]


def rows(labelled_set: LabelledSet, runs: dict, chosen: list[str], cache: Path) -> list[dict]:
    """One row per (run, checkpoint in ``chosen``, and for GRUCounts: the mixture and its GRU alone)."""
    result = []
    if "counts" in runs:
        run = runs["counts"]
        what = f"`counts` trigram, smoothing {run['options'][1]}"
        result.append({"what": what, "run": run, "f": cached(labelled_set, "counts", run, [], cache)})
    for key, run in sorted(runs.items()):
        match = KEY.match(key)
        if not match:
            continue
        model = match["model"] or "labelled"
        seed = int(match["seed"] or 42)
        kinds = {"GRU alone": GRU_ALONE, "GRUCounts": []} if model == "labelled" else {NAMES[model]: []}
        for checkpoint, path in checkpoints(model, run).items():
            if checkpoint not in chosen:
                continue
            for kind, extra in kinds.items():
                what = f"{kind}, label_weight {match['weight']}, {checkpoint}"
                what += f", seed {seed}" if seed != 42 else ""
                f = cached(labelled_set, model, run | {"ckpt": path}, extra, cache)
                row = {"what": what, "run": run, "f": f, "kind": kind, "checkpoint": checkpoint}
                result.append(row | {"weight": float(match["weight"]), "seed": seed})
    return result


def header(name: str, labelled_set: LabelledSet) -> str:
    b = baselines(labelled_set.pairs)
    return (
        f"**{name}**: {len(labelled_set.labels)} labels; test/accuracy of the baselines: majority class "
        f"{b['majority']:.3f}, last letter {b['last letter']:.3f}, per-label trigram counts "
        f"{b['trigram counts']:.3f} (alpha {b['alpha']:g}, chosen on val)."
    )


def table(found: list[dict]) -> list[str]:
    lines = [
        "| model, checkpoint | val/nll | test/nll | val/accuracy | test/accuracy | test ECE | test ECE calibrated (T) "
        "| mixture w, a | steps | s/step |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in found:
        f, run, what = row["f"], row["run"], row["what"]
        mixture = f"{f['count weight']:g}, {f['count smoothing']:g}" if "count weight" in f else ""
        steps = run.get("steps", 0)
        per_step = f"{run['wall'] / steps:.3f}" if steps and "counts" not in what else ""
        val_accuracy = "" if f["val accuracy"] is None else f"{f['val accuracy']:.3f}"
        lines.append(
            f"| {what} | {f['val']:.4f} | {f['test']:.4f} | {val_accuracy} | {f['accuracy']:.3f} | {f['ece']:.3f} | "
            f"{f['ece calibrated']:.3f} ({f['temperature']:.2f}) | {mixture} | {steps:,} | {per_step} |"
        )
    return lines


def over_seeds(found: list[dict]) -> list[str]:
    """Each (model, checkpoint, weight) fitted with several seeds: test/accuracy and val/nll, each seed and the
    mean, and val/nll above the same seed's run without the term."""
    groups: dict[tuple, dict[int, dict]] = {}
    for row in found:
        if "seed" in row:
            groups.setdefault((row["kind"], row["checkpoint"], row["weight"]), {})[row["seed"]] = row["f"]
    lines = [
        "| model, checkpoint | label_weight | seeds | test/accuracy, each seed | mean (sd) | val/nll, each seed "
        "| mean | val/nll minus weight 0's, each seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (kind, checkpoint, weight), by_seed in sorted(groups.items()):
        if len(by_seed) < 2:
            continue
        seeds = sorted(by_seed)
        accuracy = [by_seed[s]["accuracy"] for s in seeds]
        val = [by_seed[s]["val"] for s in seeds]
        plain = groups.get((kind, checkpoint, 0.0), {})
        cost = ", ".join(f"{by_seed[s]['val'] - plain[s]['val']:+.4f}" for s in seeds if s in plain and weight)
        spread = statistics.stdev(accuracy)
        lines.append(
            f"| {kind}, {checkpoint} | {weight:g} | {', '.join(map(str, seeds))} | "
            f"{', '.join(f'{a:.3f}' for a in accuracy)} | {statistics.mean(accuracy):.3f} ({spread:.3f}) | "
            f"{', '.join(f'{v:.4f}' for v in val)} | {statistics.mean(val):.4f} | {cost} |"
        )
    return lines if len(lines) > 2 else []


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=["names_by_language", "names_by_gender", "surnames_by_language"])
    parser.add_argument("--weights", nargs="*", type=float, default=[0.0, 1.0], help="--model.label_weight values")
    parser.add_argument("--epochs", type=int, default=None, help="the config's schedule, shortened")
    parser.add_argument("--seeds", nargs="*", type=int, default=[], help="--seed_everything values (the split stays)")
    parser.add_argument("--model", choices=["labelled", "gru", "transformer"], default="labelled", help="the config")
    parser.add_argument("--counts", action=argparse.BooleanOptionalAction, default=True, help="fit the trigram")
    parser.add_argument("--mixture", choices=MIXTURES, help="labelled.yaml's --model.mixture (default: the config's)")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument("--report", action="store_true", help="no fits: evaluate the recorded runs again")
    parser.add_argument("--runs", type=Path, nargs="+", default=[RUNS], help="fits go to the first; all reported")
    parser.add_argument("--checkpoints", nargs="+", default=["val/nll", "val/accuracy", "last"], help="reported")
    args = parser.parse_args(argv)
    sets = {name: LabelledSet.load(args.data, name) for name in args.sets}
    if not args.report:
        for name, labelled_set in sets.items():
            if args.counts:
                record(args.runs[0], name, "counts", fit_counts(labelled_set))
            for weight, seed in itertools.product(args.weights, args.seeds or [None]):
                options = ["--model.label_weight", f"{weight:g}"]
                options += ["--trainer.max_epochs", str(args.epochs)] if args.epochs else []
                options += ["--seed_everything", str(seed)] if seed is not None else []
                options += ["--model.mixture", args.mixture] if args.mixture else []
                key = f"{args.model} weight {weight:g}" + (f" seed {seed}" if seed is not None else "")
                record(args.runs[0], name, key, labelled_set.fit(args.model, True, options))
    recorded: dict[str, dict] = {name: {} for name in args.sets}
    for path in args.runs:
        for name, runs in json.loads(path.read_text()).items():
            recorded.get(name, {}).update(runs)
    lines = []
    for name, labelled_set in sets.items():
        found = rows(labelled_set, recorded[name], args.checkpoints, LOGS / "evaluations.json")
        lines += [header(name, labelled_set), "", *table(found), "", *over_seeds(found), ""]
    text = "\n".join(lines)
    write_atomic(args.runs[0].with_suffix(".md"), text.encode())
    print(text)


if __name__ == "__main__":
    main()
