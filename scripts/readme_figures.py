"""Regenerate the pictures of README.md and docs/inside.md in docs/ from a real run of configs/bigram.yaml.

    makemore-pl fit --config configs/bigram.yaml
    python scripts/readme_figures.py lightning_logs/bigram/version_0

Copies the run's counts.png and probabilities.png, and plots train/loss and val/nll read back
from the run's TensorBoard event file, with the count model's optimum as a line.
"""

import shutil
import sys
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def curves(run: Path, out: Path) -> None:
    events = EventAccumulator(str(run))
    events.Reload()

    def series(tag):
        return [e.step for e in events.Scalars(tag)], [e.value for e in events.Scalars(tag)]

    fig = Figure(figsize=(7, 4), dpi=90)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(*series("train/loss"), label="train/loss (NLL + L2)")
    ax.plot(*series("val/nll"), label="val/nll")
    _, optimum = series("val/nll_optimum")
    ax.axhline(optimum[-1], color="gray", linestyle="--", label=f"count model's val/nll ({optimum[-1]:.4f})")
    ax.set_xlabel("step (one full batch)")
    ax.set_ylabel("nats per character")
    ax.set_ylim(optimum[-1] - 0.05, optimum[-1] + 0.6)
    ax.legend()
    ax.set_title("makemore-pl fit --config configs/bigram.yaml")
    fig.tight_layout()
    fig.savefig(out, format="png")


def main(run: str, docs: str = "docs") -> None:
    run_dir, docs_dir = Path(run), Path(docs)
    docs_dir.mkdir(exist_ok=True)
    for name in ["counts.png", "probabilities.png"]:
        shutil.copyfile(run_dir / name, docs_dir / name)
    curves(run_dir, docs_dir / "curves.png")


if __name__ == "__main__":
    main(*sys.argv[1:])
