"""Lectures 2 and 3's line and scatter charts, drawn with matplotlib's object API into RGB arrays.

Each function returns an image that can go to TensorBoard (``add_image(..., dataformats="HWC")``)
and to a PNG (``figures.save_png``), drawn by ``figures.render``. No pyplot: nothing global, nothing
to close.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from makemore_pl.plots.figures import render

UPDATE_RATIO_GUIDE = -3.0  # lecture 3: updates about 1/1000 of the data's scale


def update_ratio_chart(history: dict[str, list[tuple[int, float]]], shapes: dict[str, tuple[int, ...]]) -> np.ndarray:
    """Lecture 3's picture: log10(std(update) / std(data)) per parameter over the steps, and the guide at -3.

    The weight matrices and embeddings (2 or more dimensions), the lines the lecture draws, are
    coloured and named; the biases and normalisation gains are thin grey lines, named once, so that
    a Transformer's fifty parameters stay readable.
    """
    matrices = [name for name in history if len(shapes.get(name, ())) >= 2]
    colours = colormaps["tab10" if len(matrices) <= 10 else "tab20"]
    fig = Figure(figsize=(10, 4.5), dpi=90, layout="constrained")
    ax = fig.add_subplot()
    others_named = False
    for name, points in history.items():
        steps, ratios = zip(*points)
        if name in matrices:
            colour = colours(matrices.index(name) % colours.N)
            ax.plot(steps, ratios, color=colour, linewidth=1.3, label=f"{name} {tuple(shapes[name])}")
        else:
            label = None if others_named else "biases and gains (1-D)"
            ax.plot(steps, ratios, "--", color="grey", linewidth=0.8, alpha=0.7, label=label)
            others_named = True
    ax.axhline(UPDATE_RATIO_GUIDE, color="black", linewidth=1, label="guide: -3 (lecture 3)")
    ax.set_xlabel("step")
    ax.set_ylabel("log10(std(update) / std(data))")
    ax.set_title("update-to-data ratio per parameter")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=7, frameon=False)
    return render(fig)


def embedding_chart(points: np.ndarray, labels: list[str], title: str) -> np.ndarray:
    """Lecture 2's picture of a 2-D embedding: each character a dot at its point, labelled."""
    fig = Figure(figsize=(6.5, 6.5), dpi=80, layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(points[:, 0], points[:, 1], s=260, color="tab:blue")
    for (x, y), label in zip(points, labels):
        ax.text(x, y, label, ha="center", va="center", color="white", fontsize=10, fontweight="bold")
    ax.grid(alpha=0.4)
    ax.set_title(title)
    return render(fig)


def lr_chart(
    lrs: list[float], losses: list[float], suggestion: float | None, lowest: float | None, title: str
) -> np.ndarray:
    """Lecture 2's sweep: the smoothed loss against the learning rate (log axis), the suggestion, the lowest point."""
    fig = Figure(figsize=(7, 4.2), dpi=90, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(lrs, losses, linewidth=1.5)
    if suggestion is not None:
        ax.axvline(suggestion, color="tab:red", linestyle="--", label=f"Lightning's suggestion {suggestion:.3g}")
    if lowest is not None:
        ax.axvline(lowest, color="tab:green", linestyle=":", label=f"lowest loss {lowest:.3g}")
    values = np.asarray(losses, dtype=float)
    finite = np.isfinite(values)
    if finite.any():
        # Past the valley the loss shoots up: show the descent, which is what the eye must read.
        valley = int(np.nanargmin(np.where(finite, values, np.nan)))
        low, high = values[valley], np.nanmax(np.where(finite, values, np.nan)[: valley + 1])
        margin = 0.05 * (high - low) + 1e-3
        ax.set_ylim(low - margin, high + 4 * margin)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss (smoothed)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return render(fig)
