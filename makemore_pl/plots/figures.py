"""The lecture's bigram table as a picture: a Blues heatmap, previous character down, next across.

matplotlib draws the frame (axes, character ticks, titles) once per fit. Each picture then
only colours the cells with the Blues colormap in numpy and, for the labelled version, writes
the cell labels with Pillow: drawing 1,458 matplotlib Text objects would take longer than
training the bigram.
"""

from __future__ import annotations

import io
import os

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from makemore_pl.data.files import write_atomic


class TableFigure:
    def __init__(self, row_labels: list[str], col_labels: list[str], title: str, cell_size: int = 26) -> None:
        """Draw the frame once: the cells are filled in by ``image``."""
        self.rows, self.cols = len(row_labels), len(col_labels)
        self.row_labels, self.col_labels = row_labels, col_labels
        dpi = 72
        width = (self.cols * cell_size + 110) / dpi
        height = (self.rows * cell_size + 120) / dpi
        fig = Figure(figsize=(width, height), dpi=dpi)
        FigureCanvasAgg(fig)
        # Axes placed in pixels, so the cells' pixel boundaries are known exactly.
        left, bottom = 70 / (width * dpi), 40 / (height * dpi)
        ax = fig.add_axes((left, bottom, self.cols * cell_size / (width * dpi), self.rows * cell_size / (height * dpi)))
        ax.imshow(np.zeros((self.rows, self.cols)), cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(self.cols), [repr(c)[1:-1] for c in col_labels], fontsize=9)
        ax.set_yticks(range(self.rows), [repr(r)[1:-1] for r in row_labels], fontsize=9)
        ax.xaxis.tick_top()
        ax.set_xlabel("next character", fontsize=10)
        ax.xaxis.set_label_position("top")
        ax.set_ylabel("previous character(s)", fontsize=10)
        fig.suptitle(title, fontsize=11, y=0.995)
        self.frame = render(fig)
        x0, y0, x1, y1 = ax.get_window_extent().extents
        top = self.frame.shape[0] - y1  # matplotlib counts pixels from the bottom, images from the top
        self.x_edges = np.round(np.linspace(x0, x1, self.cols + 1)).astype(int)
        self.y_edges = np.round(np.linspace(top, top + (y1 - y0), self.rows + 1)).astype(int)
        self.lut = (colormaps["Blues"](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)

    def image(self, values: np.ndarray, cell_text: bool = False) -> np.ndarray:
        """The frame with the cells coloured by ``values`` (scaled to their maximum), as an RGB array."""
        scaled = values / max(float(values.max()), 1e-12)
        colours = self.lut[np.clip((scaled * 255).astype(int), 0, 255)]
        image = self.frame.copy()
        cells = np.repeat(np.repeat(colours, np.diff(self.y_edges), axis=0), np.diff(self.x_edges), axis=1)
        image[self.y_edges[0] : self.y_edges[-1], self.x_edges[0] : self.x_edges[-1]] = cells
        if cell_text:
            image = self._label(image, values)
        return image

    def _label(self, image: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Each cell's two characters and its value, as in the lecture's figure."""
        picture = Image.fromarray(image)
        draw = ImageDraw.Draw(picture)
        font = ImageFont.load_default(size=8)
        integral = bool(np.all(values == np.round(values)))
        for i in range(self.rows):
            cy = (self.y_edges[i] + self.y_edges[i + 1]) / 2
            for j in range(self.cols):
                cx = (self.x_edges[j] + self.x_edges[j + 1]) / 2
                pair = (self.row_labels[i][-1:] + self.col_labels[j]).replace("\n", "⏎")
                number = f"{int(values[i, j])}" if integral else f"{values[i, j]:.2f}"
                fill = (255, 255, 255) if values[i, j] > 0.6 * values.max() else (90, 90, 90)
                draw.text((cx, cy - 1), pair, fill=fill, font=font, anchor="md")
                draw.text((cx, cy + 1), number, fill=fill, font=font, anchor="ma")
        return np.asarray(picture)


def render(fig: Figure) -> np.ndarray:
    """The figure drawn as an RGB array, ``(height, width, 3)``."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_png(image: np.ndarray, path: str | os.PathLike) -> None:
    """Write ``image`` as a PNG, atomically."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    write_atomic(path, buffer.getvalue())
