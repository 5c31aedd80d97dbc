"""Fine-tuning with --init_from, through the real command line: a checkpoint's weights on a grown vocabulary."""

from pathlib import Path

import pytest
import torch
import yaml
from conftest import SERIES, TINY_WORDS, tiny_args, words_file
from helpers import run_dir

from makemore_pl import GRU, finetune
from makemore_pl.cli import MakemoreCLI, cli_main, run_cli
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.records import WORDS
from makemore_pl.data.vocab import Vocabulary
from makemore_pl.errors import UsageError

# A new list: accented letters the checkpoint never saw, a 'j' that lands among the known letters
# (so they move), and no 'k', 'w' or 'x' (which stay in the vocabulary).
NEW_WORDS = [
    "zoé", "chloé", "renée", "andré", "noël", "maëlle", "inès", "léa", "anaïs", "océane",
    "zélie", "loïc", "raphaël", "jérôme", "hélène", "jules", "joël", "théo", "célia", "eloïse",
]  # fmt: skip
NEW_CHARS = "jèéëïô"
MODELS = ["bigram", "trigram", "counts", *SERIES]


@pytest.fixture
def new_file(tmp_path: Path) -> Path:
    return words_file(tmp_path / "new.txt", NEW_WORDS)


def quick_base(tmp_path: Path, words: Path, name: str, *extra: str) -> Path:
    """A checkpoint of ``configs/<name>.yaml`` after 2 steps on ``words``, without the config's callbacks and logs."""
    quiet = ["--trainer.max_steps", "2", "--trainer.limit_val_batches", "0", "--trainer.logger", "false", *extra]
    cli = run_cli(MakemoreCLI, ["fit", *tiny_args(tmp_path, words, name, *quiet), "--trainer.callbacks=[]"])
    cli.trainer.save_checkpoint(tmp_path / f"{name}.ckpt")
    return tmp_path / f"{name}.ckpt"


def saved_model(ckpt: Path):
    """The checkpoint's model as it was trained, built from its own arguments."""
    saved = torch.load(ckpt, weights_only=True)
    hparams = saved["hyper_parameters"]
    module, name = hparams["_class_path"].rsplit(".", 1)
    model_class = getattr(__import__(module, fromlist=[name]), name)
    model = model_class(**{key: value for key, value in hparams.items() if key[0] != "_"})
    model.load_state_dict(saved["state_dict"])
    return model.eval()


def encoded(model, words: list[str]) -> torch.Tensor:
    vocab = Vocabulary(model.itos)
    if model.layout == WORDS:
        return vocab.encode_padded(words, max(map(len, words)) + 1)[0]
    return vocab.encode_words(words, model.context)[0]


@pytest.mark.parametrize("name", MODELS)
def test_every_model_reads_known_characters_as_before_and_grows(tmp_path, tiny_file, new_file, name):
    ckpt = quick_base(tmp_path, tiny_file, name)
    old = saved_model(ckpt)
    # validate --init_from: the checkpoint's weights, grown, with no training.
    cli = run_cli(MakemoreCLI, ["validate", *tiny_args(tmp_path, new_file, name), "--init_from", str(ckpt)])
    new = cli.model.eval()
    assert new.itos == Vocabulary.from_words(NEW_WORDS + TINY_WORDS).itos  # the sorted union, boundary first
    assert set(NEW_CHARS) <= set(new.itos) and {"k", "w", "x"} & set(old.itos) <= set(new.itos)
    # Every known character keeps its rows: on words of known characters, the model's distribution over
    # the known characters is the checkpoint's (a count table's smoothing spreads some mass to the new).
    kept = [new.itos.index(token) for token in old.itos]
    known_words = [word for word in TINY_WORDS if len(word) <= len("raphaël")]  # the new list's longest
    with torch.no_grad():
        before = old.logits(encoded(old, known_words))
        after = new.logits(encoded(new, known_words))
    torch.testing.assert_close(after[..., kept].log_softmax(-1), before.log_softmax(-1), rtol=1e-5, atol=1e-5)
    assert after.shape[-1] == before.shape[-1] + len(NEW_CHARS)


def test_a_network_fine_tunes_from_step_0_with_a_fresh_optimizer(tmp_path, tiny_file, new_file):
    ckpt = quick_base(tmp_path, tiny_file, "gru")
    base = torch.load(ckpt, weights_only=True)
    cli_main(["fit", *tiny_args(tmp_path, new_file, "gru", "--trainer.max_epochs", "2"), "--init_from", str(ckpt)])
    run = max((tmp_path / "logs" / "gru").glob("version_*"))
    tuned = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    steps = 2 * -(-16 // 8)  # 2 epochs of the 16 training words (80% of 20) in batches of 8
    assert base["global_step"] == 2 and tuned["global_step"] == steps
    assert all(state["step"] == steps for state in tuned["optimizer_states"][0]["state"].values())
    assert tuned["lr_schedulers"][0]["last_epoch"] == steps
    assert tuned["vocab"] == Vocabulary.from_words(NEW_WORDS + TINY_WORDS).itos
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["init_from"] == str(ckpt) and config["data"]["known_vocab"] == base["vocab"]
    # A new character starts from the documented rows: the mean known embedding, the lowest known bias
    # (validate --init_from rebuilds the weights that the fit started from).
    cli = run_cli(MakemoreCLI, ["validate", *tiny_args(tmp_path, new_file, "gru"), "--init_from", str(ckpt)])
    network, state = cli.model.network, base["state_dict"]
    e_acute = cli.model.itos.index("é")
    torch.testing.assert_close(network.tokens.weight[e_acute], state["network.tokens.weight"].mean(0))
    assert network.head.bias[e_acute] == state["network.head.bias"].min()
    # The fine-tuned run's own checkpoint tests with its config.yaml alone (it records the union).
    cli_main(["test", "--ckpt_path", str(run / "checkpoints" / "last.ckpt")])


def test_an_ngram_table_grows_rows_and_columns(tmp_path, tiny_file, new_file):
    ckpt = quick_base(tmp_path, tiny_file, "trigram")
    cli_main(["fit", *tiny_args(tmp_path, new_file, "trigram", "--trainer.max_epochs", "3"), "--init_from", str(ckpt)])
    tuned = torch.load(max((tmp_path / "logs" / "trigram").glob("version_*/checkpoints/last.ckpt")), weights_only=True)
    size = len(Vocabulary.from_words(NEW_WORDS + TINY_WORDS))
    assert tuned["state_dict"]["W"].shape == (size**2, size) and tuned["global_step"] == 3


def test_a_count_table_adds_the_new_counts_to_the_checkpoints(tmp_path, tiny_file, new_file):
    ckpt = quick_base(tmp_path, tiny_file, "counts")
    cli_main(["fit", *tiny_args(tmp_path, new_file, "counts"), "--init_from", str(ckpt)])
    tuned = torch.load(max((tmp_path / "logs" / "counts").glob("version_*/checkpoints/last.ckpt")), weights_only=True)
    before = torch.load(ckpt, weights_only=True)["state_dict"]["counts"].sum()
    train = WordsDataModule(str(new_file)).split_words()["train"]
    counts = tuned["state_dict"]["counts"]
    assert counts.sum() == before + sum(len(word) + 1 for word in train)  # each word and its end
    assert counts[:, [tuned["vocab"].index(c) for c in NEW_CHARS]].sum() > 0


def test_conflicting_options_bad_checkpoints_and_another_model_class_are_refused(tmp_path, tiny_file, new_file, capsys):
    ckpt = quick_base(tmp_path, tiny_file, "gru")
    (tmp_path / "garbage.ckpt").write_text("not a checkpoint")
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    cases = [
        ("gru", ckpt, ["--model.hidden", "16"], "--model.hidden 16 conflicts with the checkpoint's hidden 8"),
        ("gru", ckpt, ["--model.init_args.layers=2"], "--model.init_args.layers 2 conflicts with the checkpoint's"),
        ("gru", ckpt, ["--ckpt_path", str(ckpt)], "give --init_from (a new run from a checkpoint's weights) or"),
        ("gru", tmp_path / "missing.ckpt", [], "no such checkpoint file"),
        ("gru", tmp_path / "garbage.ckpt", [], "not a readable checkpoint file"),
        ("gru", tmp_path / "foreign.ckpt", [], "not a makemore-pl checkpoint"),
        ("transformer", ckpt, [], "holds a makemore_pl.GRU, but the config trains a makemore_pl.Transformer"),
    ]
    for config, path, extra, message in cases:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            cli_main(["fit", *tiny_args(tmp_path, new_file, config), "--init_from", str(path), *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_.value.code == 2 and len(err) == 1 and message in err[0], (message, err)
    # Training options may change: dropout, learning rate and batch size are not architecture.
    training = ["--model.dropout", "0.3", "--model.optimizer.init_args.lr", "0.01", "--data.batch_size", "4"]
    cli = run_cli(MakemoreCLI, ["validate", *tiny_args(tmp_path, new_file, "gru"), "--init_from", str(ckpt), *training])
    assert cli.model.dropout == 0.3 and cli.datamodule.batch_size == 4


def test_a_position_table_is_kept_and_a_longer_word_refused(tmp_path, tiny_file, new_file, capsys):
    ckpt = quick_base(tmp_path, tiny_file, "transformer")  # longest word 9: block_size 10
    cli = run_cli(MakemoreCLI, ["validate", *tiny_args(tmp_path, new_file, "transformer"), "--init_from", str(ckpt)])
    assert cli.model.block_size == 10 and cli.model.network.positions.weight.shape[0] == 10
    longer = tmp_path / "longer.txt"
    longer.write_text("\n".join([*NEW_WORDS[:10], "marie-hélène", *NEW_WORDS[10:]]) + "\n")
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli_main(["fit", *tiny_args(tmp_path, longer, "transformer"), "--init_from", str(ckpt)])
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"makemore-pl: error: {longer}, line 11: a word of 12 characters, longer than the 9 that the position table "
        f"of --init_from {ckpt} holds; shorten the line, or train from scratch without --init_from"
    ]


def test_labels_grow_like_the_vocabulary():
    # The remapping on the models; through the command line, with the data's labels, below.
    old = GRU([".", "a", "b", "c"], labels=["de", "fr"], embedding=4, hidden=8)
    new = GRU(Vocabulary.from_words(["abé"], old.itos).itos, labels=["de", "en", "fr"], embedding=4, hidden=8)
    with torch.no_grad():
        old.network.tokens.labels.weight.normal_()
    state = finetune.grow_state(new, old.state_dict(), old.itos, old.labels)
    table, known = state["network.tokens.labels.weight"], old.network.tokens.labels.weight
    assert torch.equal(table[[0, 2]], known) and torch.allclose(table[1], known.mean(0))
    new.load_state_dict(state)
    # Called directly with labels that lack one of the checkpoint's, grow_state refuses: the CLI keeps them.
    fewer = GRU(new.itos, labels=["de", "en"], embedding=4, hidden=8)
    with pytest.raises(UsageError, match=r"the data's labels lacks \['fr'\], which the checkpoint knows"):
        finetune.grow_state(fewer, old.state_dict(), old.itos, old.labels)


def write_labelled(path: Path, words: list[str], label_of) -> Path:
    path.write_text("".join(f"{word}\t{label_of(word)}\n" for word in words))
    return path


# The tiny words labelled a, e or x by their last letter; the new list brings no word of "a", and a new "n".
def base_label(word: str) -> str:
    return word[-1] if word[-1] in "ae" else "x"


def new_label(word: str) -> str:
    return "e" if word[-1] in "eé" else "x" if word[-1] in "ls" else "n"


@pytest.mark.parametrize("name", ["gru", "counts"])
def test_a_label_the_new_list_lacks_stays_and_still_samples(tmp_path, name, capsys):
    base_file = write_labelled(tmp_path / "base.tsv", TINY_WORDS, base_label)
    new = write_labelled(tmp_path / "new.tsv", NEW_WORDS, new_label)
    ckpt = quick_base(tmp_path, base_file, name, "--data.labelled", "true")
    base = torch.load(ckpt, weights_only=True)
    # No weight decay, and the checkpoint's weights as they are (no shrink or perturbation, docs/finetune.md):
    # then a label without words, which gets no gradient, keeps its row through training.
    plain = ["--finetune.shrink", "1", "--finetune.perturb", "0"]
    still = ["--model.optimizer.init_args.weight_decay", "0", *plain] if name == "gru" else []
    fit = ["fit", *tiny_args(tmp_path, new, name, "--data.labelled", "true", "--trainer.max_epochs", "1", *still)]
    cli = run_cli(MakemoreCLI, [*fit, "--init_from", str(ckpt)])
    run = run_dir(tmp_path, name)
    last = run / "checkpoints" / "last.ckpt"
    tuned = torch.load(last, weights_only=True)
    assert base["labels"] == ["a", "e", "x"] and tuned["labels"] == cli.model.labels == ["a", "e", "n", "x"]
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["known_labels"] == ["a", "e", "x"]
    state, known = tuned["state_dict"], base["state_dict"]
    if name == "gru":
        assert torch.equal(state["network.tokens.labels.weight"][0], known["network.tokens.labels.weight"][0])
    else:  # the checkpoint's counts of "a", re-indexed to the grown vocabulary, and nothing added
        kept = finetune.token_map(base["vocab"], tuned["vocab"])
        assert torch.equal(state["label_counts"][0][kept][:, kept], known["label_counts"][0])
    assert state["label_prior"][0] == 0 and state["label_prior"].sum().item() == pytest.approx(1)
    # No words of "a" to evaluate: no nll of its own, and nothing NaN; test reads the run's config.yaml.
    tested = run_cli(MakemoreCLI, ["test", "--ckpt_path", str(last)]).trainer.callback_metrics
    metrics = {**cli.trainer.callback_metrics, **tested}
    assert {"val/nll/e", "val/nll/n", "test/nll/x", "test/accuracy"} <= set(metrics)
    assert not {"val/nll/a", "test/nll/a"} & set(metrics)
    assert all(torch.isfinite(value).all() for value in metrics.values()), metrics
    capsys.readouterr()
    run_cli(MakemoreCLI, ["predict", "--ckpt_path", str(last), "--sampling.label", "a", "--sampling.num_samples", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.endswith("\ta") and len(line) > 2 for line in lines), lines


def test_a_labelled_checkpoint_on_unlabelled_words_is_refused_in_one_line(tmp_path, new_file, capsys):
    ckpt = quick_base(tmp_path, write_labelled(tmp_path / "base.tsv", TINY_WORDS, base_label), "gru",
                      "--data.labelled", "true")  # fmt: skip
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        cli_main(["fit", *tiny_args(tmp_path, new_file, "gru"), "--init_from", str(ckpt)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1, err
    assert "is conditioned on labels (a, e, x): fine-tune it on labelled words" in err[0]
