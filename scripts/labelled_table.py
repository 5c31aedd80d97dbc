"""Measure labelled models against unlabelled ones and against simple classifiers: docs/labels.md's table.

    python scripts/labelled_names.py                  # first: the sets, into data/
    python scripts/labelled_table.py                  # both sets, the counting trigram, the GRU, the Transformer
    python scripts/labelled_table.py --sets names_by_gender --models gru --epochs gru=6
    python scripts/labelled_table.py --report         # the last run's checkpoints again: evaluate, sample, table

On each set (data/<set>.tsv) and for each model, with the config as shipped (the counting trigram is
configs/counts.yaml at context 2), it fits:
- the conditioned model, with `--data.labelled true`;
- the same config without labels, on the same split: the words alone, in exactly the labelled
  split's train, val and test words (a word under several labels is there once per label, as in the
  labelled split, so both val/nll average over the same predictions).
The counting trigram's smoothing is chosen on val, for the labelled and the plain model alike.
Then it evaluates each best checkpoint (the counting model's only one): val/nll, test/nll, and for
the labelled model test/accuracy (Bayes' rule over the labels); samples five words of each label
with `makemore-pl predict --sampling.label [...]`; and prints the table with the wall time of each fit.
Beside them, the baselines of makemore_pl.scoring.baselines on the same split: the majority class, Naive
Bayes on the last letter, and the per-label trigram-count classifier with its alpha chosen on val.

`--epochs model=N` shortens a network's schedule (its one-cycle schedule spans the N epochs). Runs go
to lightning_logs/labelled/; what the fits recorded to lightning_logs/labelled/runs.json, which
`--report` reads to evaluate and sample the same checkpoints again; the table to stdout and
lightning_logs/labelled/table.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from makemore_pl.cli import MakemoreCLI, run_cli
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.files import write_atomic
from makemore_pl.scoring.baselines import LastLetterBayes, Majority, Pair, TrigramBayes, accuracy

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO / "lightning_logs" / "labelled"
RUNS = LOGS / "runs.json"
SETS = ["names_by_language", "names_by_gender"]
# The config of each model, and what it needs beside it: the counting trigram is counts.yaml at context 2.
MODELS = {
    "counts": ("configs/counts.yaml", ["--data.context", "2"]),
    "gru": ("configs/gru.yaml", []),
    "transformer": ("configs/transformer.yaml", []),
}
SMOOTHINGS = [0.01, 0.03, 0.1, 0.3, 1.0]  # the counting trigram's grid, as the lecture's exercise E03 tunes it
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


@dataclass
class LabelledSet:
    """One set of data/: its TSV, the same lines without their labels, and the split every config makes."""

    name: str
    tsv: Path
    words: Path
    pairs: dict[str, list[Pair]]
    splits: dict[str, list[str]]
    labels: list[str]

    @classmethod
    def load(cls, folder: Path, name: str) -> LabelledSet:
        tsv = folder / f"{name}.tsv"
        if not tsv.is_file():
            sys.exit(f"labelled_table.py: error: {tsv} is missing: run `python scripts/labelled_names.py` first")
        # The configs' split (seed 42, 80/10/10); every labelled fit is checked to make the same one.
        pairs = WordsDataModule(str(tsv), labelled=True).split_pairs()
        splits = {split: [word for word, _ in p] for split, p in pairs.items()}
        words = LOGS / f"{name}.words.txt"
        write_atomic(words, "".join(f"{word}\n" for split in splits.values() for word in split).encode())
        return cls(name, tsv, words, pairs, splits, sorted({label for _, label in pairs["train"]}))

    def cli(self, model: str, labelled: bool, options: list[str], logged: bool = True) -> MakemoreCLI:
        """The model's config with ``options`` on the set, labelled or plain; a plain one given the labelled split."""
        config, extra = MODELS[model]
        data = self.tsv if labelled else self.words
        args = ["--config", str(REPO / config), *extra, *options, *QUIET, "--data.path", str(data)]
        args += ["--data.labelled", str(labelled).lower()]
        if logged:
            name = f"{self.name}/{model}_{'labelled' if labelled else 'plain'}"
            args += ["--trainer.logger.init_args.save_dir", str(LOGS), "--trainer.logger.init_args.name", name]
        else:  # evaluating: no new version folder per evaluation
            args += ["--trainer.logger", "false", "--trainer.default_root_dir", str(LOGS / "evaluate")]
        cli = run_cli(MakemoreCLI, args, run=False)
        if not labelled:
            # The plain model reads the labelled split's words: set before setup, which keeps given splits.
            cli.datamodule.splits = self.splits
        return cli

    def fit(self, model: str, labelled: bool, options: list[str]) -> dict:
        """Fit, and what the fit leaves: its best checkpoint (the counting model's only one), steps and wall time."""
        cli = self.cli(model, labelled, options)
        start = time.perf_counter()
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        wall = time.perf_counter() - start
        if cli.datamodule.splits != self.splits:  # the labelled fit splits by itself: it must be the same split
            raise RuntimeError(f"{cli.datamodule.path}: the fit's split is not the baselines' split")
        checkpoint = cli.trainer.checkpoint_callback
        ckpt = checkpoint.best_model_path or checkpoint.last_model_path
        return {"options": options, "ckpt": ckpt, "wall": wall, "steps": cli.trainer.global_step}

    def evaluate(self, model: str, labelled: bool, run: dict) -> dict:
        """val/nll, test/nll and (labelled) test/accuracy of the run's checkpoint, on the set's split."""
        cli = self.cli(model, labelled, run["options"], logged=False)
        (val,) = cli.trainer.validate(cli.model, datamodule=cli.datamodule, ckpt_path=run["ckpt"], verbose=False)
        (test,) = cli.trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path=run["ckpt"], verbose=False)
        figures = {"val": val["val/nll"], "test": test["test/nll"], "accuracy": test.get("test/accuracy")}
        return figures | ({"train accuracy": train_accuracy(cli)} if labelled else {})

    def samples(self, model: str, run: dict) -> dict[str, list[str]]:
        """Five words of each label, from the real `makemore-pl predict`, which prints word<TAB>label lines."""
        config, extra = MODELS[model]
        command = [sys.executable, "-m", "makemore_pl", "predict", "--config", str(REPO / config), *extra]
        command += [*run["options"], *QUIET, "--data.path", str(self.tsv), "--data.labelled", "true"]
        command += [
            "--ckpt_path",
            run["ckpt"],
            "--sampling.num_samples",
            "5",
            "--sampling.label",
            f"[{','.join(self.labels)}]",
        ]
        command += ["--trainer.logger", "false", "--trainer.default_root_dir", str(LOGS / "predict")]
        lines = subprocess.run(command, check=True, cwd=REPO, capture_output=True, text=True).stdout.splitlines()
        words: dict[str, list[str]] = {label: [] for label in self.labels}
        for line in lines:
            word, _, label = line.partition("\t")
            words[label].append(word)
        return words


def train_accuracy(cli: MakemoreCLI, chunk: int = 2048) -> float:
    """Bayes' rule on the training words themselves (the tested checkpoint's weights): how much of the
    labels the model has taken in, beside how well that carries over to test words."""
    model, words = cli.model, cli.datamodule.classify("train")
    right = 0
    with model.evaluating():
        for index in torch.arange(len(words.y)).split(chunk):
            x, y = words.x[index].to(model.device), words.y[index].to(model.device)
            right += int(words.labels[index].to(model.device).gather(1, model.classify(x, y)[:, None]).sum())
    return right / len(words.y)


def baselines(pairs: dict[str, list[Pair]]) -> dict[str, float]:
    train, val, test = pairs["train"], pairs["val"], pairs["test"]
    trigram = TrigramBayes.tuned(train, val)
    return {
        "majority": accuracy(Majority(train), test),
        "last letter": accuracy(LastLetterBayes(train), test),
        "trigram counts": accuracy(trigram, test),
        "trigram counts, train": accuracy(trigram, train),
        "alpha": trigram.alpha,
    }


def fit_model(labelled_set: LabelledSet, model: str, options: list[str]) -> dict:
    """The labelled and the plain run of one model; the counting trigram's at its best smoothing on val for each."""
    if model != "counts":
        return {"labelled": labelled_set.fit(model, True, options), "plain": labelled_set.fit(model, False, options)}
    tuned = {}
    for kind, labelled in (("labelled", True), ("plain", False)):
        fits = []
        for smoothing in SMOOTHINGS:
            run = labelled_set.fit(model, labelled, [*options, "--model.smoothing", str(smoothing)])
            fits.append((labelled_set.evaluate(model, labelled, run)["val"], run))
        tuned[kind] = min(fits, key=lambda f: f[0])[1]
    return tuned


def report(labelled_set: LabelledSet, runs: dict, samples: bool) -> dict:
    """Each run's checkpoint evaluated, and sampled, by the code installed now; the set's baselines."""
    result = {"name": labelled_set.name, "labels": labelled_set.labels, "models": {}}
    result["sizes"] = {split: len(pairs) for split, pairs in labelled_set.pairs.items()}
    result["baselines"] = baselines(labelled_set.pairs)
    for model, kinds in runs.items():
        row = {kind: run | labelled_set.evaluate(model, kind == "labelled", run) for kind, run in kinds.items()}
        if samples:
            row["samples"] = labelled_set.samples(model, kinds["labelled"])
        result["models"][model] = row
        print(f"{labelled_set.name} {model}: {row}", file=sys.stderr)
    return result


def record(path: Path, name: str, model: str, runs: dict) -> None:
    """Keep a model's runs in ``path`` beside the other sets' and models': one command per set can run at once."""
    recorded = json.loads(path.read_text()) if path.is_file() else {}
    recorded.setdefault(name, {})[model] = runs
    write_atomic(path, json.dumps(recorded, indent=1).encode())


def option(run: dict, name: str) -> str | None:
    options = run["options"]
    return options[options.index(name) + 1] if name in options else None


def table(results: list[dict]) -> str:
    lines = []
    for r in results:
        b = r["baselines"]
        sizes = ", ".join(f"{s} {n:,}" for s, n in r["sizes"].items())
        lines += [
            f"**{r['name']}**: {len(r['labels'])} labels; (word, label) pairs {sizes}. test/accuracy of the "
            f"baselines: majority class {b['majority']:.3f}, last letter {b['last letter']:.3f}, per-label "
            f"trigram counts {b['trigram counts']:.3f} (alpha {b['alpha']:g}, chosen on val; on its own training "
            f"words {b['trigram counts, train']:.3f}).",
            "",
            "| model | val/nll labelled | val/nll plain | test/nll labelled | test/accuracy | accuracy on train words "
            "| steps | wall time of fit (labelled, plain) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for model, m in r["models"].items():
            labelled, plain = m["labelled"], m["plain"]
            what = f"`{model}`"
            if option(labelled, "--trainer.max_epochs"):
                what += f", {option(labelled, '--trainer.max_epochs')} epochs"
            if model == "counts":
                what += f", smoothing {option(labelled, '--model.smoothing')} / {option(plain, '--model.smoothing')}"
            walls = f"{labelled['wall']:.0f} s, {plain['wall']:.0f} s"
            steps = "1 pass" if model == "counts" else f"{labelled['steps']:,}"
            lines.append(
                f"| {what} | {labelled['val']:.4f} | {plain['val']:.4f} | {labelled['test']:.4f} | "
                f"{labelled['accuracy']:.3f} | {labelled['train accuracy']:.3f} | {steps} | {walls} |"
            )
        sampled = {model: m["samples"] for model, m in r["models"].items() if "samples" in m}
        if sampled:
            lines += ["", "| label | " + " | ".join(f"`{model}`" for model in sampled) + " |"]
            lines.append("|---|" + "---|" * len(sampled))
            for label in r["labels"]:
                lines.append(f"| {label} | " + " | ".join(", ".join(s[label]) for s in sampled.values()) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=SETS, help="sets of --data to measure on")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--data", type=Path, default=REPO / "data", help="the folder of the sets' .tsv files")
    parser.add_argument("--epochs", nargs="*", default=[], metavar="MODEL=N", help="shorter schedules: gru=6")
    parser.add_argument("--runs", type=Path, default=RUNS, help="where the fits are recorded, and --report reads")
    parser.add_argument("--report", action="store_true", help="no fits: evaluate and sample the last runs again")
    parser.add_argument("--samples", action=argparse.BooleanOptionalAction, default=True, help="five per label")
    args = parser.parse_args(argv)
    epochs = {model: int(n) for model, n in (item.split("=") for item in args.epochs)}
    start = time.perf_counter()
    sets = {name: LabelledSet.load(args.data, name) for name in args.sets}
    if not args.report:
        for name, labelled_set in sets.items():
            for model in args.models:
                options = ["--trainer.max_epochs", str(epochs[model])] if model in epochs else []
                record(args.runs, name, model, fit_model(labelled_set, model, options))
    runs = json.loads(args.runs.read_text())
    results = [report(sets[name], runs[name], args.samples) for name in args.sets]
    command = " ".join(["python scripts/labelled_table.py", *(sys.argv[1:] if argv is None else argv)])
    minutes = (time.perf_counter() - start) / 60
    text = table(results) + f"\n`{command}` took {minutes:.1f} minutes, on a machine shared with other work.\n"
    write_atomic(args.runs.with_name("table.md" if args.runs == RUNS else f"{args.runs.stem}.md"), text.encode())
    print(text)


if __name__ == "__main__":
    main()
