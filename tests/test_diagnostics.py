"""Looking inside: lecture 3's diagnostics, lecture 2's embeddings and its learning-rate search, read back."""

import copy
import io
import math

import lightning as L
import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, fit_args
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from makemore_pl.callbacks.diagnostics import BINS, Diagnostics, add_histogram, saturation
from makemore_pl.cli import cli_main
from makemore_pl.cli.lr import lr_main
from makemore_pl.data.batches import FullBatch
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.models.mlp import MLP
from makemore_pl.models.neural import NeuralNGram
from makemore_pl.plots.embeddings import visible


def with_diagnostics(tmp_path, config: str, every_n_steps: int | None) -> str:
    """``config`` rewritten with a Diagnostics callback recording every ``every_n_steps`` steps, or with none."""
    settings = yaml.safe_load((REPO / config).read_text())
    callbacks = [c for c in settings["trainer"]["callbacks"] if c["class_path"] != "makemore_pl.Diagnostics"]
    if every_n_steps is not None:
        callbacks.append({"class_path": "makemore_pl.Diagnostics", "init_args": {"every_n_steps": every_n_steps}})
    settings["trainer"]["callbacks"] = callbacks
    path = tmp_path / f"{'on' if every_n_steps else 'off'}_{(REPO / config).name}"
    path.write_text(yaml.safe_dump(settings))
    return str(path)


def events_of(run) -> EventAccumulator:
    events = EventAccumulator(str(run), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    events.Reload()
    return events


def test_mlp_bn_logs_the_lectures_diagnostics_and_embeddings(tmp_path, tiny_file):
    # The shipped config, its interval changed from the command line; a 2-D embedding for lecture 2's picture.
    cli_main(["fit", *fit_args(tmp_path, tiny_file, "configs/mlp_bn.yaml"), "--trainer.max_steps", "5",
              "--trainer.callbacks.every_n_steps", "2", "--model.embedding", "2"])  # fmt: skip
    run = next((tmp_path / "logs" / "mlp_bn").glob("version_*"))
    events = events_of(run)
    tags = events.Tags()
    tanh = "network.4 (Tanh)"
    matrices = ["network.0.weight", "network.2.weight", "network.6.weight"]  # C, the hidden layer, the output
    gains = ["network.3.weight", "network.3.bias", "network.6.bias"]  # BatchNorm's gain and shift, output bias

    for tag in [f"activation_mean/{tanh}", f"activation_std/{tanh}", f"saturation/{tanh}"]:
        assert [e.step for e in events.Scalars(tag)] == [0, 2, 4]  # the first step, then every 2
    assert all(0 <= e.value <= 1 for e in events.Scalars(f"saturation/{tanh}"))
    assert {f"activation/{tanh}", f"activation_grad/{tanh}"} | {f"grad/{m}" for m in matrices} <= set(
        tags["histograms"]
    )
    assert events.Histograms(f"activation/{tanh}")[0].histogram_value.num > 0
    # Gradient-to-data for the weight matrices only; update-to-data for every parameter.
    scalars = tags["scalars"]
    assert {t for t in scalars if t.startswith("grad_data_ratio/")} == {f"grad_data_ratio/{m}" for m in matrices}
    assert {t for t in scalars if t.startswith("update_data_ratio/")} == {
        f"update_data_ratio/{p}" for p in matrices + gains
    }
    assert all(-8 < e.value < 1 for e in events.Scalars("update_data_ratio/network.2.weight"))

    assert {"update_data_ratio", "embedding"} <= set(tags["images"])
    for name in ["update_data_ratio", "embedding"]:
        logged = events.Images(name)[-1]
        png = Image.open(run / f"{name}.png")
        assert png.size == (logged.width, logged.height) == Image.open(io.BytesIO(logged.encoded_image_string)).size

    # The Projector: the character table, with a label per character.
    projector = (run / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "network.0:' in projector
    [folder] = (run / "00005").iterdir()
    vocab = WordsDataModule(path=str(tiny_file)).vocab
    assert (folder / "metadata.tsv").read_text().splitlines() == [visible(c) for c in vocab]
    assert len((folder / "tensors.tsv").read_text().splitlines()) == len(vocab)


def tiny_mlp_fit(tmp_path, tiny_file, optimizer) -> tuple[MLP, MLP, tuple, Diagnostics]:
    """One full-batch step of a small MLP with Diagnostics on: the model before and after, and the batch."""
    L.seed_everything(0)
    data = WordsDataModule(path=str(tiny_file), context=3, batch_size=None)
    model = MLP(data.vocab, context=3, embedding=4, hidden=16, optimizer=optimizer)
    before = copy.deepcopy(model)
    diagnostics = Diagnostics(every_n_steps=1)
    logger = L.pytorch.loggers.TensorBoardLogger(tmp_path, name="tiny")
    trainer = L.Trainer(max_steps=1, logger=logger, callbacks=[diagnostics], limit_val_batches=0,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(model, datamodule=data)
    batch = next(iter(FullBatch(*data.examples["train"], counted=False)))
    return before, model, batch, diagnostics


def test_the_update_to_data_ratio_is_the_lectures_after_one_sgd_step(tmp_path, tiny_file):
    lr = 0.1
    before, _, batch, diagnostics = tiny_mlp_fit(tmp_path, tiny_file, lambda p: torch.optim.SGD(p, lr=lr))
    loss, _ = before.objective(batch)
    loss.backward()
    logged = {e.step: e.value for e in events_of(next((tmp_path / "tiny").glob("version_*"))).Scalars(
        "update_data_ratio/network.2.weight")}  # fmt: skip
    for name, p in before.named_parameters():
        # Lecture 3: ((lr * p.grad).std() / p.data.std()).log10(), with p.data after the update.
        hand = ((lr * p.grad).std() / (p.detach() - lr * p.grad).std()).log10().item()
        [(step, ratio)] = diagnostics.history[name]
        assert step == 0 and ratio == pytest.approx(hand, abs=1e-4), name
    assert logged[0] == pytest.approx(diagnostics.history["network.2.weight"][0][1], abs=1e-6)


def test_the_update_is_the_change_the_optimizer_made_whatever_the_optimizer(tmp_path, tiny_file):
    before, after, _, diagnostics = tiny_mlp_fit(tmp_path, tiny_file, lambda p: torch.optim.Adam(p, lr=0.01))
    moved = dict(after.named_parameters())
    for name, p in before.named_parameters():
        change = moved[name].detach() - p.detach()
        expected = (change.std() / moved[name].detach().std()).log10().item()
        assert diagnostics.history[name][0][1] == pytest.approx(expected, abs=1e-5), name


@pytest.mark.parametrize(
    ("config", "activation"),
    [("configs/mlp_bn.yaml", "(Tanh)"), ("configs/transformer.yaml", "(GELU)"), ("configs/lstm.yaml", "(LSTM)")],
)
def test_weights_are_bitwise_the_same_with_and_without_diagnostics(tmp_path, tiny_file, config, activation):
    # The Transformer and the LSTM train with dropout: a callback drawing random numbers would show here.
    states = {}
    for every in (None, 1):
        cli_main(["fit", *fit_args(tmp_path, tiny_file, with_diagnostics(tmp_path, config, every)),
                  "--trainer.max_steps", "4"])  # fmt: skip
        run = max((tmp_path / "logs").glob("*/version_*"), key=lambda p: int(p.name.split("_")[1]))
        states[every] = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert states[None].keys() == states[1].keys()
    assert all(torch.equal(states[None][k], states[1][k]) for k in states[None])
    saturations = [t for t in events_of(run).Tags()["scalars"] if t.startswith("saturation/")]
    assert saturations and all(t.endswith(activation) for t in saturations)


def test_a_resumed_run_keeps_the_update_ratios_of_the_steps_before(tmp_path, tiny_file):
    # No one-cycle schedule: its length is fixed at the start, so it cannot resume to a longer run.
    args = fit_args(tmp_path, tiny_file, "configs/mlp_bn.yaml", "--trainer.callbacks.every_n_steps", "2",
                    "--model.lr_scheduler", "null")  # fmt: skip
    cli_main(["fit", *args, "--trainer.max_steps", "3"])
    last = next((tmp_path / "logs" / "mlp_bn").glob("version_*")) / "checkpoints" / "last.ckpt"
    cli_main(["fit", *args, "--trainer.max_steps", "7", "--ckpt_path", str(last)])
    resumed = max((tmp_path / "logs" / "mlp_bn").glob("version_*"), key=lambda p: int(p.name.split("_")[1]))
    states = torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]
    [history] = [state["history"] for key, state in states.items() if key.startswith("Diagnostics")]
    assert [step for step, _ in history["network.2.weight"]] == [0, 2, 4, 6]


def test_any_config_gets_diagnostics_from_the_command_line_even_the_bigram(tmp_path, tiny_file):
    cli_main(["fit", *fit_args(tmp_path, tiny_file), "--trainer.max_epochs", "4",
              "--trainer.callbacks+=makemore_pl.Diagnostics", "--trainer.callbacks.every_n_steps", "2"])  # fmt: skip
    events = events_of(next((tmp_path / "logs" / "bigram").glob("version_*")))
    # The lecture's W: a weight matrix with no activation layer around it.
    assert [e.step for e in events.Scalars("update_data_ratio/W")] == [0, 2]
    assert "grad/W" in events.Tags()["histograms"]
    assert not [t for t in events.Tags()["scalars"] if t.startswith("saturation/")]


def test_saturation_is_the_lectures_for_tanh_and_the_same_slope_elsewhere():
    x = torch.randn(4096, generator=torch.Generator().manual_seed(0)) * 3
    t = torch.tanh(x)
    assert saturation(nn.Tanh(), x, t).item() == pytest.approx((t.abs() > 0.97).float().mean().item(), abs=1 / 4096)
    # GELU's slope, Phi(x) + x phi(x), by hand: below tanh's at 0.97 in its flat negative region.
    phi = torch.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)
    slope = 0.5 * (1 + torch.erf(x / math.sqrt(2))) + x * phi
    expected = (slope.abs() < 1 - 0.97**2).float().mean().item()
    assert saturation(nn.GELU(), x, nn.functional.gelu(x)).item() == pytest.approx(expected, abs=1 / 4096)
    assert saturation(nn.ReLU(), x, x.relu()).item() == pytest.approx((x <= 0).float().mean().item(), abs=1 / 4096)
    h = torch.tensor([[0.5, -0.98], [0.99, 0.1]])
    assert saturation(nn.LSTM(1, 2), h, h).item() == 0.5


def test_diagnostics_refuse_a_zero_interval(tmp_path, tiny_file, capsys):
    args = fit_args(tmp_path, tiny_file, "configs/mlp_bn.yaml", "--trainer.callbacks.every_n_steps", "0")
    with pytest.raises(SystemExit) as exit_:
        cli_main(["fit", *args])
    assert exit_.value.code == 2
    assert "every_n_steps" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "flags"),
    [
        ("configs/mlp.yaml", ["--model.optimizer.init_args.lr", "--model.lr_scheduler.init_args.max_lr"]),
        ("configs/bigram.yaml", ["--model.optimizer.init_args.lr"]),
    ],
)
def test_the_lr_search_writes_its_picture_and_the_option_to_use(tmp_path, tiny_file, capsys, config, flags):
    lr_main([*fit_args(tmp_path, tiny_file, config), "--lr_find.num_training", "30", "--lr_find.min_lr", "1e-3"])
    out = capsys.readouterr().out
    command = out.splitlines()[-1].strip()
    assert command.startswith("makemore-pl fit --config") and "--lr_find" not in command
    assert [flag for flag in command.split() if flag.startswith("--model.")] == flags
    suggested = float(command.split()[-1])
    assert 1e-3 <= suggested <= 1
    run = next((tmp_path / "logs").glob("*/version_*"))
    png = Image.open(run / "lr_find.png")
    assert png.size[0] > 400
    assert "lr_find" in events_of(run).Tags()["images"]


def test_the_lr_search_curve_starts_at_the_loss_of_the_first_step(tmp_path, tiny_file, capsys):
    # Full batch: the first step's loss is the objective of the whole training split at the initial W.
    lr_main([*fit_args(tmp_path, tiny_file, "configs/bigram.yaml"), "--lr_find.num_training", "20"])
    run = next((tmp_path / "logs" / "bigram").glob("version_*"))
    first_lr, first_loss = map(float, (run / "lr_find.tsv").read_text().splitlines()[0].split("\t"))
    data = WordsDataModule(path=str(tiny_file))
    data.setup()
    model = NeuralNGram(data.vocab, l2=0.01)
    expected = model.objective(next(iter(FullBatch(*data.examples["train"]))))[0].item()
    # Lightning's own first value is about half of it: its bias correction is one step late.
    assert first_lr == pytest.approx(1e-4) and first_loss == pytest.approx(expected, rel=1e-5)


def test_the_lr_search_refuses_a_counting_model(tmp_path, tiny_file, capsys):
    with pytest.raises(SystemExit) as exit_:
        lr_main(fit_args(tmp_path, tiny_file, "configs/counts.yaml"))
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "makemore-pl-lr: error: CountNGram learns by counting: it has no learning rate to search"


class RecordingWriter:
    """Stands in for a SummaryWriter: keeps what add_histogram_raw was given."""

    def add_histogram_raw(self, tag, **fields):
        self.tag, self.fields = tag, fields


SPREAD = torch.randn(10_000, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("values", [SPREAD, torch.full((7,), 0.3)])
def test_histograms_computed_in_torch_are_numpys(values):
    writer = RecordingWriter()
    add_histogram(writer, "activation/x", values, step=5)
    fields = writer.fields
    counts, edges = np.histogram(values.numpy(), bins=BINS)
    assert writer.tag == "activation/x" and fields["global_step"] == 5
    assert fields["bucket_counts"][0] == 0 and sum(fields["bucket_counts"]) == fields["num"] == len(values)
    assert len(fields["bucket_limits"]) == len(fields["bucket_counts"])
    assert fields["min"] == pytest.approx(float(values.min())) and fields["max"] == pytest.approx(float(values.max()))
    assert fields["sum"] == pytest.approx(float(values.double().sum()), abs=1e-3)
    assert fields["sum_squares"] == pytest.approx(float(values.double().square().sum()), rel=1e-5)
    if values.min() < values.max():  # the same bins as numpy's, up to values that fall on an edge
        assert fields["bucket_limits"] == pytest.approx(edges.tolist(), abs=1e-5)
        assert np.abs(np.array(fields["bucket_counts"][1:]) - counts).max() <= 2
    else:  # one value: every count in one bin
        assert max(fields["bucket_counts"]) == len(values)
