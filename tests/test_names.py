"""The default config on the real names.txt (CI copies it into data/): it must land on the count model's optimum."""

import pytest
from conftest import fit_args
from helpers import count_model_val_nll, scalars

from makemore_pl.cli import cli_main
from makemore_pl.data.datamodule import WordsDataModule


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
