"""The default config on the real names.txt (CI copies it into data/): it must land on the count model's optimum."""

import pytest
import torch
from conftest import fit_args
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from makemore_pl.cli import cli_main
from makemore_pl.data.datamodule import WordsDataModule


def scalars(run_dir, tag):
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return [e.value for e in events.Scalars(tag)]


def count_model_val_nll(dm: WordsDataModule) -> float:
    """The closed-form optimum: smoothed bigram counts of the train split, best smoothing on val, in float64."""
    (xt, yt), (xv, yv) = dm.examples["train"], dm.examples["val"]
    counts = torch.zeros(dm.vocab_size, dm.vocab_size, dtype=torch.float64)
    counts.index_put_((xt[:, 0], yt), torch.ones(len(yt), dtype=torch.float64), accumulate=True)

    def val_nll(alpha: float) -> float:
        probs = (counts + alpha) / (counts + alpha).sum(1, keepdim=True)
        return -probs[xv[:, 0], yv].log().mean().item()

    return min(val_nll(a) for a in [0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0])


@pytest.mark.slow
def test_default_config_reaches_the_count_models_validation_nll(tmp_path, names_file):
    cli_main(["fit", *fit_args(tmp_path, names_file)])
    run = next((tmp_path / "logs" / "bigram").glob("version_*"))
    val = scalars(run, "val/nll")
    assert len(scalars(run, "train/loss")) > 10 and len(val) > 10
    dm = WordsDataModule(path=str(names_file))
    dm.setup()
    optimum = count_model_val_nll(dm)
    assert abs(min(val) - optimum) < 0.01, (min(val), optimum)
    assert min(val) <= 2.47
