"""The lecture's numbers, reproduced by the named configs on the real names.txt (CI has it)."""

import pytest
from conftest import fit_args
from helpers import scalars

from makemore_pl.cli import cli_main


def fit(tmp_path, names_file, config, *extra):
    name = config.removeprefix("configs/").removesuffix(".yaml")
    cli_main(["fit", *fit_args(tmp_path, names_file, config, *extra)])
    runs = sorted((tmp_path / "logs" / name).glob("version_*"), key=lambda p: int(p.name.split("_")[1]))
    return runs[-1]


@pytest.mark.slow
def test_lecture_counts_give_the_lectures_nll_and_names(tmp_path, names_file, capsys):
    run = fit(tmp_path, names_file, "configs/lecture_counts.yaml")
    assert scalars(run, "train/examples") == [228146]
    assert scalars(run, "train/nll")[0] == pytest.approx(2.45458, abs=5e-6)

    unsmoothed = fit(tmp_path, names_file, "configs/lecture_counts.yaml", "--model.smoothing", "0")
    assert scalars(unsmoothed, "train/nll")[0] == pytest.approx(2.45401, abs=5e-6)

    # The lecture's sampling loop, g = torch.Generator().manual_seed(2147483647), on P = (N+1)/sum.
    capsys.readouterr()
    ckpt = run / "checkpoints" / "last.ckpt"
    cli_main(["predict", *fit_args(tmp_path, names_file, "configs/lecture_counts.yaml"), "--ckpt_path", str(ckpt)])
    assert capsys.readouterr().out.split() == ["cexze", "momasurailezitynn", "konimittain", "llayn", "ka"]


@pytest.mark.slow
def test_lecture_neural_loop_lands_where_the_lecture_lands(tmp_path, names_file):
    run = fit(tmp_path, names_file, "configs/lecture.yaml")
    losses = scalars(run, "train/loss")
    assert len(losses) == 100
    assert losses[-1] == pytest.approx(2.490, abs=5e-4)


@pytest.mark.slow
def test_neural_bigram_without_l2_reaches_the_unsmoothed_count_nll(tmp_path, names_file):
    run = fit(
        tmp_path,
        names_file,
        "configs/lecture.yaml",
        "--model.l2", "0",
        "--model.optimizer", "torch.optim.Adam",
        "--model.optimizer.lr", "0.5",
        "--trainer.max_epochs", "300",
    )  # fmt: skip
    nll = scalars(run, "train/nll")
    assert min(nll) >= 2.45401 - 1e-5  # the count model is the optimum: nothing gets below it
    assert nll[-1] - 2.45401 < 1e-3, nll[-1]
