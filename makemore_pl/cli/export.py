"""`makemore-pl export --ckpt_path <ckpt> --format onnx --output model.onnx`: a model that needs no torch."""

from __future__ import annotations

from jsonargparse import ArgumentParser

from makemore_pl.checkpoints import load_model
from makemore_pl.cli.arguments import checkpoint_parser
from makemore_pl.data.files import write_atomic
from makemore_pl.errors import UsageError
from makemore_pl.export.onnx import to_onnx


def parser() -> ArgumentParser:
    parser = checkpoint_parser(
        "export",
        "Export a trained model to a file that runs without torch: ONNX, for onnxruntime. "
        "Inputs tokens (and label, for a labelled model), output logits; the vocabulary, labels and sampling "
        "options go into the file's metadata (key makemore_pl, JSON). See docs/export.md.",
    )
    parser.add_argument("--format", type=str, default="onnx", help="The file's format: onnx (the only one).")
    parser.add_argument("--output", type=str, default="model.onnx", help="Where to write the file (atomically).")
    return parser


def export_main(args: list[str] | None = None) -> None:
    """Entry point of `makemore-pl export` (dispatched from ``cli.main.COMMANDS``)."""
    config = parser().parse_args(args)
    if config.format != "onnx":
        raise UsageError(f"--format {config.format!r}: the only format is onnx")
    model = load_model(config.ckpt_path)
    write_atomic(config.output, to_onnx(model))
    print(f"makemore-pl export: wrote {config.output}", flush=True)
