"""Regenerate docs/inside.md's pictures in docs/ from real runs.

    makemore-pl fit --config configs/mlp_bn.yaml                          # Diagnostics on
    makemore-pl fit --config configs/mlp.yaml --model.embedding 2          # lecture 2's 2-D embedding
    makemore-pl lr  --config configs/mlp.yaml                             # the learning-rate sweep
    python scripts/inside_figures.py lightning_logs/mlp_bn/version_0 lightning_logs/mlp/version_0 \\
        lightning_logs/mlp/version_1

Draws lecture 3's three histogram figures (activations and the gradients flowing back into them
at the first and the last recorded step, the weight matrices' gradients at the last), read back
from the mlp_bn run's TensorBoard event file; and copies the pictures the runs saved themselves:
update_data_ratio.png, embedding.png and lr_find.png.
"""

import shutil
import sys
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def density(histogram) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and densities of a TensorBoard histogram (it stores each bin's right edge, after an empty one)."""
    limits, counts = np.array(histogram.bucket_limit), np.array(histogram.bucket)
    widths = np.diff(limits)
    centres = limits[1:] - widths / 2
    return centres, counts[1:] / (histogram.num * np.where(widths > 0, widths, 1))


def moments(histogram) -> tuple[float, float]:
    mean = histogram.sum / histogram.num
    return mean, np.sqrt(max(histogram.sum_squares / histogram.num - mean**2, 0.0))


def histograms(run: Path, out: Path) -> None:
    events = EventAccumulator(str(run), size_guidance={"histograms": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()["histograms"]

    def scalar(tag: str, step: int) -> float:
        return {e.step: e.value for e in events.Scalars(tag)}[step]

    # (prefix, title, which recorded steps): the activations at the start and the end, the
    # gradients at the end, as lecture 3 draws them after some training.
    panels = [
        ("activation/", "activations", (0, -1)),
        ("activation_grad/", "gradients flowing back into the activations", (0, -1)),
        ("grad/", "gradients of the weight matrices", (-1,)),
    ]
    fig = Figure(figsize=(15, 4.2), dpi=72, layout="constrained")
    FigureCanvasAgg(fig)
    for column, (prefix, title, which) in enumerate(panels):
        ax = fig.add_subplot(1, 3, column + 1)
        widest = 0.0
        for tag in sorted(t for t in tags if t.startswith(prefix)):
            name = tag[len(prefix) :]
            recorded = events.Histograms(tag)
            for index in which:
                event = recorded[index]
                mean, std = moments(event.histogram_value)
                widest = max(widest, std)
                label = f"{name}, step {event.step}: mean {mean:+.1e}, std {std:.1e}"
                if prefix == "activation/":
                    label += f", saturated {scalar(f'saturation/{name}', event.step):.1%}"
                elif prefix == "grad/":
                    label += f", grad:data {scalar(f'grad_data_ratio/{name}', event.step):.1e}"
                style = "--" if index == 0 and len(which) > 1 else "-"
                ax.plot(*density(event.histogram_value), style, linewidth=1.3, label=label)
        if prefix != "activation/":
            ax.set_xlim(-5 * widest, 5 * widest)
        ax.set_title(title, fontsize=11)
        ax.legend(fontsize=7.5, loc="upper right")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{run.parent.name}/{run.name}: lecture 3's histograms, read back from its event file", fontsize=11)
    fig.savefig(out, format="png")


def main(diagnostics_run: str, embedding_run: str, lr_run: str, docs: str = "docs") -> None:
    docs_dir = Path(docs)
    docs_dir.mkdir(exist_ok=True)
    histograms(Path(diagnostics_run), docs_dir / "histograms.png")
    shutil.copyfile(Path(diagnostics_run) / "update_data_ratio.png", docs_dir / "update_data_ratio.png")
    shutil.copyfile(Path(embedding_run) / "embedding.png", docs_dir / "embedding.png")
    shutil.copyfile(Path(lr_run) / "lr_find.png", docs_dir / "lr_find.png")


if __name__ == "__main__":
    main(*sys.argv[1:])
