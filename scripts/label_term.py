"""Measure the label term and the count mixture: docs/labels.md's table of configs/labelled.yaml.

    python scripts/labelled_names.py                  # first: the sets, into data/
    python scripts/label_term.py --sets names_by_language --weights 0 1 --epochs 10
    python scripts/label_term.py --report             # the recorded runs evaluated again, the table

On each set (data/<set>.tsv), for each ``--model.label_weight`` in ``--weights``, it fits
configs/labelled.yaml (``GRUCounts``: a GRU mixed with per-label trigram counts, the mixture's
weights and the label temperature chosen on val at each validation, the checkpoint on val/accuracy).
It evaluates the best checkpoint (on val/accuracy, as labelled.yaml chooses) and the last one (the
schedule's end) twice each: as shipped (the mixture) and with ``--model.count_weight 0`` (its GRU
alone, the same weights). Beside them the labelled counting trigram (configs/counts.yaml at
context 2, smoothing chosen on val/nll as scripts/labelled_table.py does), and the baselines of
makemore_pl.baselines on the same split. Each row: val/nll, test/nll, test/accuracy, test ECE before
and after the temperature, the fit's steps and seconds per step (validation included).

Runs go to lightning_logs/labelled/; what the fits recorded to lightning_logs/labelled/term.json;
the table to stdout and lightning_logs/labelled/term.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labelled_table import LOGS, MODELS, SMOOTHINGS, LabelledSet, baselines, record

from makemore_pl.data.files import write_atomic

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


def rows(labelled_set: LabelledSet, runs: dict) -> list[tuple[str, dict, dict]]:
    result = []
    if "counts" in runs:
        run = runs["counts"]
        name = f"`counts` trigram, smoothing {run['options'][1]}"
        result.append((name, run, evaluate(labelled_set, "counts", run)))
    for key, run in sorted(runs.items()):
        if not key.startswith("weight"):
            continue
        weight = key.split(" ")[1]
        # The checkpoint labelled.yaml keeps (best val/accuracy), and the last one: the schedule's end,
        # where the one-cycle schedule has annealed and val/nll is lowest.
        last = run | {"ckpt": str(Path(run["ckpt"]).with_name("last.ckpt"))}
        for checkpoint, chosen in (("best val/accuracy", run), ("last", last)):
            what = f"label_weight {weight}, {checkpoint}"
            result.append((f"GRU alone, {what}", run, evaluate(labelled_set, "labelled", chosen, GRU_ALONE)))
            result.append((f"GRUCounts, {what}", run, evaluate(labelled_set, "labelled", chosen)))
    return result


def table(name: str, labelled_set: LabelledSet, runs: dict) -> str:
    b = baselines(labelled_set.pairs)
    lines = [
        f"**{name}**: {len(labelled_set.labels)} labels; test/accuracy of the baselines: majority class "
        f"{b['majority']:.3f}, last letter {b['last letter']:.3f}, per-label trigram counts "
        f"{b['trigram counts']:.3f} (alpha {b['alpha']:g}, chosen on val).",
        "",
        "| model | val/nll | test/nll | val/accuracy | test/accuracy | test ECE | test ECE calibrated (T) "
        "| mixture w, a | steps | s/step |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for what, run, f in rows(labelled_set, runs):
        mixture = f"{f['count weight']:g}, {f['count smoothing']:g}" if "count weight" in f else ""
        steps = run.get("steps", 0)
        per_step = f"{run['wall'] / steps:.3f}" if steps and "counts" not in what else ""
        val_accuracy = "" if f["val accuracy"] is None else f"{f['val accuracy']:.3f}"
        lines.append(
            f"| {what} | {f['val']:.4f} | {f['test']:.4f} | {val_accuracy} | {f['accuracy']:.3f} | {f['ece']:.3f} | "
            f"{f['ece calibrated']:.3f} ({f['temperature']:.2f}) | {mixture} | {steps:,} | {per_step} |"
        )
        print(f"{name} {what}: {f}", file=sys.stderr)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=["names_by_language", "names_by_gender", "surnames_by_language"])
    parser.add_argument("--weights", nargs="*", type=float, default=[0.0, 1.0], help="--model.label_weight values")
    parser.add_argument("--epochs", type=int, default=None, help="a shorter schedule than labelled.yaml's 30")
    parser.add_argument("--counts", action=argparse.BooleanOptionalAction, default=True, help="fit the trigram")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument("--report", action="store_true", help="no fits: evaluate the recorded runs again")
    parser.add_argument("--runs", type=Path, default=RUNS, help="where the fits are recorded (one per process)")
    args = parser.parse_args(argv)
    sets = {name: LabelledSet.load(args.data, name) for name in args.sets}
    if not args.report:
        for name, labelled_set in sets.items():
            if args.counts:
                record(args.runs, name, "counts", fit_counts(labelled_set))
            for weight in args.weights:
                options = ["--model.label_weight", f"{weight:g}"]
                options += ["--trainer.max_epochs", str(args.epochs)] if args.epochs else []
                record(args.runs, name, f"weight {weight:g}", labelled_set.fit("labelled", True, options))
    recorded = json.loads(args.runs.read_text())
    text = "\n".join(table(name, sets[name], recorded[name]) for name in args.sets)
    write_atomic(args.runs.with_suffix(".md"), text.encode())
    print(text)


if __name__ == "__main__":
    main()
