"""Sampling from every model: the seed, top-k, the prefix and the length cap."""

import pytest
import torch
from conftest import tiny_args
from helpers import SEQUENCE_MODELS, VOCAB, WINDOW_MODELS, error_of

from makemore_pl.callbacks.dashboard import fit_counts
from makemore_pl.cli import cli_main
from makemore_pl.data.vocab import Vocabulary
from makemore_pl.errors import UsageError
from makemore_pl.models import GRU, CountNGram, NeuralNGram, Transformer
from makemore_pl.sampling.options import SamplingOptions

NETWORKS = {**WINDOW_MODELS, **SEQUENCE_MODELS}
NGRAMS = {"neural": NeuralNGram, "counts": CountNGram}


def network(name):
    """A tiny model of the family ``name``."""
    model = NETWORKS[name]()
    return type(model)(**model.hparams)


def steps(model, word, options):
    """Each draw that made ``word``: the tokens before it and the token drawn (the boundary last, if drawn)."""
    ids = [0, *model.vocabulary.encode(word)]
    drawn = ids[1:] + ([0] if len(word) < model.longest_sample(options.max_length) else [])
    return [(ids[: i + 1], token) for i, token in enumerate(drawn)]


@pytest.mark.parametrize("name", NETWORKS)
def test_the_seed_repeats_the_words_and_another_seed_changes_them(name):
    model = network(name)
    words = model.sample(num_samples=30, seed=3)
    assert len(words) == 30 and all(set(w) <= set(VOCAB[1:]) for w in words)
    assert model.sample(num_samples=30, seed=3) == words
    assert model.sample(num_samples=30, seed=4) != words
    assert model.training  # sampling left the model's mode as it was


@pytest.mark.parametrize("name", NETWORKS)
def test_top_k_draws_only_among_the_k_most_likely_next_characters(name):
    model = network(name)
    outside = 0
    for options, limited in ((SamplingOptions(top_k=2, max_length=6), True), (SamplingOptions(max_length=6), False)):
        for word in model.sample(options, num_samples=20, seed=0):
            for before, token in steps(model, word, options):
                with model.evaluating():
                    top = model.next_logits(torch.tensor([before])).topk(2).indices[0].tolist()
                assert not limited or token in top, (word, before, token, top)
                outside += token not in top
    assert outside > 0, "without top_k, the same model draws outside its top 2"


@pytest.mark.parametrize("name", NETWORKS)
def test_every_word_starts_with_the_prefix_and_respects_max_length(name):
    model = network(name)
    words = model.sample(SamplingOptions(prefix="cab", max_length=5), num_samples=30, seed=1)
    assert all(w.startswith("cab") and len(w) <= 5 for w in words)
    assert any(len(w) == 5 for w in words) and len(set(words)) > 3


def never_ending(model):
    """``model`` with the boundary's logit pushed to -1e4 at every position: its words end only at the length cap."""
    # On the layer that gives the logits: the decoders that carry their state call it, not the whole network.
    size = model.vocab_size
    head = [m for m in model.network.modules() if isinstance(m, torch.nn.Linear) and m.out_features == size][-1]
    head.register_forward_hook(lambda module, args, logits: logits.index_fill(-1, torch.tensor([0]), -1e4))
    return model


@pytest.mark.parametrize("max_length", [3, 20])
@pytest.mark.parametrize("name", NETWORKS)
def test_masked_sampling_cuts_words_at_the_length_cap_if_not_before(name, max_length):
    # exact false: the boundary forced at the cap is accepted (exact sampling never draws these words).
    model = never_ending(network(name))
    # A window model reads any length; a sequence model has positions for block_size - 1 characters only.
    cap = max_length if model.layout == "windows" else min(max_length, model.block_size - 1)
    assert model.longest_sample(max_length) == cap
    words = model.sample(SamplingOptions(max_length=max_length, prefix="e", exact=False), num_samples=5, seed=0)
    assert len(words) == 5 and all(len(w) == cap and w.startswith("e") for w in words)


@pytest.mark.parametrize("factory", [GRU, Transformer], ids=["gru", "transformer"])
def test_a_prefix_longer_than_the_longest_word_is_refused(factory):
    sizes = {"embedding": 2, "hidden": 2} if factory is GRU else {"width": 2, "layers": 1, "heads": 1}
    model = factory(VOCAB, block_size=5, **sizes)
    assert model.sample(prefix="abc", num_samples=2, seed=0)[0].startswith("abc")
    with pytest.raises(UsageError, match=r"--sampling\.prefix 'abcd'"):
        model.sample(prefix="abcd")


@pytest.mark.parametrize("name", ["neural", "counts", *NETWORKS])
def test_unknown_prefix_characters_are_refused_naming_the_option(name):
    model = NGRAMS[name](VOCAB) if name in NGRAMS else network(name)
    with pytest.raises(UsageError, match=r"--sampling\.prefix 'az': 'z' not in the vocabulary"):
        model.sample(prefix="az")


def test_predict_samples_with_its_own_options_and_refuses_an_unknown_prefix_in_one_line(tmp_path, tiny_file, capsys):
    cli_main(["fit", *tiny_args(tmp_path, tiny_file, "gru", "--trainer.max_epochs", "1")])
    ckpt = next((tmp_path / "logs").rglob("last.ckpt"))
    args = ["predict", *tiny_args(tmp_path, tiny_file, "gru"), "--ckpt_path", str(ckpt)]
    message = error_of(capsys, [*args, "--sampling.prefix", "aq"])
    assert "--sampling.prefix 'aq'" in message and "'q' not in the vocabulary" in message
    capsys.readouterr()
    # The sampling options of this command, not the checkpoint's (trained with prefix "", top_k null).
    # exact false: the greedy word may run to the cap, where exact sampling would not accept it.
    cli_main(
        [
            *args,
            "--sampling.prefix",
            "el",
            "--sampling.top_k",
            "1",
            "--sampling.num_samples",
            "6",
            "--sampling.exact",
            "false",
        ]
    )
    words = capsys.readouterr().out.splitlines()
    assert len(words) == 6 and len(set(words)) == 1 and words[0].startswith("el")  # top_k 1: the likeliest word


# The n-gram models: their sampler is the lecture's loop, one character at a time.


def lecture_loop(probs, itos, num, seed):
    """The lecture's sampling loop for a bigram table, as the notebook writes it."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(num):
        ix, word = 0, []
        while True:
            ix = torch.multinomial(probs[ix], num_samples=1, replacement=True, generator=g).item()
            if ix == 0:
                break
            word.append(itos[ix])
        out.append("".join(word))
    return out


def test_an_ngram_samples_exactly_as_the_lectures_loop(tiny_file):
    words = tiny_file.read_text().split()
    itos = Vocabulary.from_words(words).itos
    model = CountNGram(itos)
    model.counts.copy_(fit_counts(itos, 1, words).counts)
    # The lecture's loop has no length cap.
    assert model.sample(max_length=10_000, num_samples=25, seed=7) == lecture_loop(model.probs_table(), itos, 25, 7)


def controlled_ngram(context):
    """A trigram or bigram over 'abcde' whose every row ranks the characters differently, none negligible."""
    model = NeuralNGram(VOCAB, context=context, init_seed=0)
    with torch.no_grad():
        model.W.copy_(torch.randn(model.W.shape, generator=torch.Generator().manual_seed(1)) * 0.5)
        model.W[:, 0] += 1.0  # words of a few characters: the boundary among most rows' top two
    return model


def ngram_steps(model, word, options):
    ids = [0] * model.context + model.vocabulary.encode(word)
    drawn = ids[model.context :] + ([0] if len(word) < options.max_length else [])
    return [(model.rows(torch.tensor([ids[i : i + model.context]])).item(), t) for i, t in enumerate(drawn)]


@pytest.mark.parametrize("context", [1, 2])
def test_an_ngram_keeps_the_prefix_and_draws_only_its_top_k(context):
    model = controlled_ngram(context)
    probs = model.probs_table()
    outside = 0
    limits = SamplingOptions(top_k=2, prefix="db", max_length=8)
    for options, limited in ((limits, True), (SamplingOptions(max_length=8), False)):
        words = model.sample(options, num_samples=60, seed=2)
        assert len(words) == 60  # every word asked for: none of the checks below is vacuous
        for word in words:
            assert not limited or (word.startswith("db") and len(word) <= 8)
            transitions = ngram_steps(model, word, options)[2 if limited else 0 :]  # the prefix was given, not drawn
            for row, token in transitions:
                top = probs[row].topk(2).indices.tolist()
                assert not limited or token in top, (word, row, token, top)
                outside += token not in top
    assert outside > 0


def test_the_ngram_sampler_slides_its_window_over_the_prefix():
    # A trigram over '.ab' whose rows say: after '.a' comes 'b', after 'ab' or 'aa' the end.
    model = NeuralNGram([".", "a", "b"], context=2)
    with torch.no_grad():
        model.W.zero_()
        model.W[0 * 3 + 1] = torch.tensor([-1e4, -1e4, 0.0])
        model.W[1 * 3 + 2] = model.W[1 * 3 + 1] = torch.tensor([0.0, -1e4, -1e4])
    for prefix, word in (("a", "ab"), ("aa", "aa")):
        assert model.sample(prefix=prefix, max_length=10, num_samples=5, seed=0) == [word] * 5
