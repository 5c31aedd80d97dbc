"""docs/python.md's blocks run, in order, in one namespace, from a folder holding data/names.txt."""

import re
import shutil

from conftest import REPO
from helpers import printed_words

from makemore_pl.cli import cli_main
from makemore_pl.sampling.exact import generate
from makemore_pl.sampling.options import SamplingOptions
from makemore_pl.scoring.words import score_words

PAGE = REPO / "docs" / "python.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_every_block_of_the_page_runs(tmp_path, names_file, capsys):
    (tmp_path / "data").mkdir()
    shutil.copyfile(names_file, tmp_path / "data" / "names.txt")
    blocks = python_blocks()
    assert len(blocks) >= 4
    namespace: dict = {}
    for i, block in enumerate(blocks, 1):
        exec(compile(block, f"{PAGE.name}, block {i}", "exec"), namespace)

    # Trained, then loaded from the checkpoint alone, on the CPU, in eval mode.
    assert float(namespace["trainer"].callback_metrics["val/nll"]) < 2.6  # the bigram's optimum is about 2.45
    model = namespace["model"]
    assert model.device.type == "cpu" and not model.training
    words = namespace["words"]
    assert len(words) == 5 and all(word.startswith("ka") for word in words)
    # The same words as the sampling that predict and the server do (one request through generate).
    (result,) = generate(model, [SamplingOptions(num_samples=5, prefix="ka")])
    assert [s.word for s in result.words] == words

    train = namespace["train"]
    assert 0.7 < len(train) / len(set(names_file.read_text().split())) < 0.9  # the 80% training split's words
    assert all(s.word not in train for s in namespace["new"].words) and len(namespace["new"].words) == 5
    best = namespace["best"].words
    assert len(best) == 3 and all(s.word.startswith("em") for s in best)
    assert [s.log_prob for s in best] == sorted((s.log_prob for s in best), reverse=True)

    emma, gibberish = namespace["scores"]
    assert emma.nll < gibberish.nll and emma.in_train == ("emma" in train)
    assert [s.nll for s in namespace["scores"]] == [s.nll for s in score_words(model, ["emma", "kzxq"])]

    # A checkpoint saved from Python is one the commands read: predict samples the same words from it.
    capsys.readouterr()
    cli_main(["predict", "--ckpt_path", "bigram.ckpt", "--sampling.prefix", "ka", "--sampling.num_samples", "5"])
    assert printed_words(capsys) == words
