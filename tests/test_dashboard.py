"""What TensorBoard shows, read back from the event file with TensorBoard's own reader."""

import io

from conftest import fit_args
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from makemore_pl.callbacks.dashboard import Dashboard
from makemore_pl.cli import cli_main
from makemore_pl.models import GRU


def test_a_tiny_fit_logs_the_pictures_samples_and_optimum(tmp_path, tiny_file):
    cli_main(["fit", *fit_args(tmp_path, tiny_file), "--trainer.max_epochs", "30"])
    run = next((tmp_path / "logs" / "bigram").glob("version_*"))
    events = EventAccumulator(str(run), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()

    assert {"train/loss", "train/nll", "val/nll", "val/nll_optimum"} <= set(tags["scalars"])
    optimum = {e.value for e in events.Scalars("val/nll_optimum")}
    assert len(optimum) == 1 and 1.0 < optimum.pop() < 4.0

    assert {"counts", "probabilities"} <= set(tags["images"])
    assert len(events.Images("counts")) == 1  # once per fit
    assert len(events.Images("probabilities")) >= 2  # as it forms, and at the end

    samples = events.Tensors("samples/text_summary")
    text = samples[-1].tensor_proto.string_val[0].decode()
    assert text.startswith("```") and text.rstrip().endswith("```")
    lines = text.strip("`\n").splitlines()
    assert len(lines) == 8 and all(line.split()[-1] in {"new", "train"} for line in lines)

    logged = events.Images("counts")[0]
    png = Image.open(run / "counts.png")
    png.load()
    assert png.size == (logged.width, logged.height) and png.size[0] > 500
    assert Image.open(io.BytesIO(logged.encoded_image_string)).size == png.size
    assert (run / "probabilities.png").exists()


def test_a_labelled_model_shows_samples_of_each_label():
    model = GRU([".", "a", "b"], labels=["en", "fr"], block_size=6, embedding=4, hidden=8)
    samples = Dashboard(num_samples=3)._sample(model)
    assert [label for _, label in samples] == ["en"] * 3 + ["fr"] * 3
    assert all(set(word) <= {"a", "b"} for word, _ in samples)
