"""The series' networks without a Trainer: shapes, causality, and the loss against hand computations."""

import math

import pytest
import torch
from helpers import SEQUENCE_MODELS, VOCAB, WINDOW_MODELS, V
from torch import nn

from makemore_pl.data.batches import EvalBatches, FullBatch, WordBatches
from makemore_pl.data.records import Batch
from makemore_pl.data.vocab import PAD, Vocabulary
from makemore_pl.errors import UsageError
from makemore_pl.models import NeuralNGram, SequenceModel, Transformer, WindowModel


def trained_a_little(model, x, steps=3):
    """A few optimizer steps in train mode: BatchNorm's running statistics and every weight move off their init."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    shape = x.shape[:-1] if model.layout == "windows" else x.shape
    target = torch.randint(0, V, shape, generator=torch.Generator().manual_seed(0))
    for _ in range(steps):
        logits = model.network(x)
        loss = nn.functional.cross_entropy(logits.flatten(0, -2), target.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def tokens(*shape, seed=0):
    return torch.randint(0, V, shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", WINDOW_MODELS)
def test_window_networks_map_contexts_to_next_character_logits(name):
    model = WINDOW_MODELS[name]()
    for n in (2, 5):
        assert model.network(tokens(n, model.context)).shape == (n, V)
    assert model.logits(tokens(5, model.context)).shape == (5, V)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_sequence_networks_give_logits_at_every_position(name):
    model = SEQUENCE_MODELS[name]()
    for n, t in ((2, 7), (5, 3), (1, 1)):
        assert model.network(tokens(n, t)).shape == (n, t, V)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_a_later_character_never_changes_an_earlier_positions_logits(name):
    model = trained_a_little(SEQUENCE_MODELS[name](), tokens(16, 7))
    x = tokens(8, 7, seed=1)
    with torch.no_grad():
        before = model.network(x)
        for t in range(1, 7):
            changed = x.clone()
            changed[:, t:] = (changed[:, t:] + 1 + tokens(8, 7 - t, seed=t) % (V - 1)) % V  # every later one differs
            after = model.network(changed)
            torch.testing.assert_close(after[:, :t], before[:, :t], rtol=0, atol=1e-6)
            assert not torch.allclose(after[:, t:], before[:, t:]), "the changed positions must matter"


@pytest.mark.parametrize("name", [*WINDOW_MODELS, *SEQUENCE_MODELS])
def test_in_eval_mode_each_example_depends_on_itself_only(name):
    # BatchNorm mixes the examples of a batch while training; evaluation and sampling use the
    # running statistics, so no other word of the batch (a later one included) can leak in.
    factory = {**WINDOW_MODELS, **SEQUENCE_MODELS}[name]
    model = factory()
    shape = (6, model.context) if model.layout == "windows" else (6, 7)
    model = trained_a_little(model, tokens(32, *shape[1:]))
    x = tokens(*shape, seed=2)
    with torch.no_grad():
        alone = torch.cat([model.network(x[i : i + 1]) for i in range(len(x))])
        together = model.network(x)
        torch.testing.assert_close(together, alone, rtol=0, atol=1e-5)
        other = x.clone()
        other[1:] = tokens(5, *shape[1:], seed=3)
        torch.testing.assert_close(model.network(other)[0], together[0], rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", [*WINDOW_MODELS, *SEQUENCE_MODELS])
def test_evaluation_is_deterministic_and_training_uses_dropout(name):
    factory = {**WINDOW_MODELS, **SEQUENCE_MODELS}[name]
    model = factory()
    x = tokens(32, model.context) if model.layout == "windows" else tokens(32, 7)
    with model.evaluating():
        assert not model.training and torch.equal(model.network(x), model.network(x))
    assert model.training  # evaluating() restores the mode it found
    assert not torch.equal(model.network(x), model.network(x))


class TableSequence(SequenceModel):
    """A sequence model whose logits at each position are a row of a table picked by that position's token: a bigram."""

    def __init__(self, vocab, block_size=16, **kwargs):
        super().__init__(vocab, block_size, **kwargs)
        self.network = self.build_network()

    def build_network(self):
        return nn.Embedding(self.vocab_size, self.vocab_size)


class TableWindow(WindowModel):
    """A window model of context 1 whose logits are a row of a table: a bigram again."""

    def __init__(self, vocab, **kwargs):
        super().__init__(vocab, context=1, **kwargs)
        self.network = nn.Sequential(nn.Embedding(self.vocab_size, self.vocab_size), nn.Flatten())


def test_the_loss_of_padded_words_is_a_mean_over_predicted_characters_only():
    model = TableSequence(VOCAB[:3], block_size=4)
    table = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    with torch.no_grad():
        model.network.weight.copy_(table)
    # ".ab" then end, and ".b" then end, padded: 3 + 2 = 5 predictions.
    x = torch.tensor([[0, 1, 2, 0], [0, 2, 0, 0]])
    y = torch.tensor([[1, 2, 0, PAD], [2, 0, PAD, PAD]])
    assert [t.tolist() for t in Vocabulary(VOCAB[:3]).encode_padded(["ab", "b"], 4)] == [x.tolist(), y.tolist()]

    def minus_log_p(row, col):  # -log softmax(table[row])[col], by hand
        return -(table[row, col].item() - math.log(sum(math.exp(v) for v in table[row].tolist())))

    hand = (minus_log_p(0, 1) + minus_log_p(1, 2) + minus_log_p(2, 0) + minus_log_p(0, 2) + minus_log_p(2, 0)) / 5
    assert model.nll(Batch(x, y, None, torch.tensor(5.0))).item() == pytest.approx(hand, rel=1e-6)
    # The padding's logits are anything at all: changing what the padded positions read changes nothing.
    garbage = x.clone()
    garbage[0, 3], garbage[1, 2:] = 2, 1
    assert model.nll(Batch(garbage, y, None, torch.tensor(5.0))).item() == pytest.approx(hand, rel=1e-6)


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_a_networks_loss_equals_a_loop_over_its_logits(name):
    model = SEQUENCE_MODELS[name]().eval()
    words = ["abc", "e", "dadbe", "bb"]
    x, y = Vocabulary(VOCAB).encode_padded(words, 7)
    with torch.no_grad():
        logits = model.network(x)
        terms = [
            -torch.log_softmax(logits[i, t], 0)[y[i, t]].item()
            for i in range(len(words))
            for t in range(len(words[i]) + 1)
        ]
        nll = model.nll(Batch(x, y, None, torch.tensor(float(len(terms)))))
    assert len(terms) == 15
    assert nll.item() == pytest.approx(sum(terms) / len(terms), rel=1e-5)


def test_bigram_equivalent_networks_have_the_bigrams_nll_in_every_layout(tiny_file):
    words = tiny_file.read_text().split()
    vocab = Vocabulary.from_words(words)
    bigram = NeuralNGram(vocab.itos)
    sequence, window = TableSequence(vocab.itos, block_size=max(map(len, words)) + 1), TableWindow(vocab.itos)
    with torch.no_grad():
        sequence.network.weight.copy_(bigram.W)
        window.network[0].weight.copy_(bigram.W)
    windows = vocab.encode_words(words, 1)
    padded = vocab.encode_padded(words, sequence.block_size)

    with torch.no_grad():
        expected = bigram.nll(next(iter(FullBatch(*windows)))).item()  # counted, as the lecture's bigram trains
        assert expected == pytest.approx(nn.functional.cross_entropy(bigram.W[windows[0][:, 0]], windows[1]).item())
        assert window.nll(next(iter(FullBatch(*windows, counted=False)))).item() == pytest.approx(expected, rel=1e-6)
        assert sequence.nll(next(iter(FullBatch(*padded, counted=False)))).item() == pytest.approx(expected, rel=1e-6)
        for chunk in (1, 5, 1000):
            for data, model in ((windows, window), (padded, sequence)):
                total = sum(model.nll(batch).item() for batch in EvalBatches(*data, chunk))
                assert total == pytest.approx(expected, rel=1e-6), (chunk, type(model).__name__)
        # One epoch of word batches: each batch's mean, weighted by its predictions, is the whole mean.
        batches = list(WordBatches(*padded, batch_size=7, seed=0, epoch=lambda: 0))
        weighted = sum(sequence.nll(b).item() * b.total.item() for b in batches) / sum(b.total.item() for b in batches)
        assert weighted == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("init", ["fan_in", "gpt2"])
def test_the_transformers_starting_weights_are_the_scale_its_init_names(init):
    torch.manual_seed(0)
    network = Transformer(VOCAB, labels=["a", "b"], block_size=16, width=64, layers=4, heads=4, init=init).network
    block = network.blocks[0]
    residual = 0.02 / math.sqrt(2 * 4)  # GPT-2's projections onto the residual stream: 1/sqrt(2 * layers) of 0.02
    expected = [  # (weight, its std under fan_in, under gpt2)
        (network.tokens.weight, 1.0, 0.02),
        (network.positions.weight, 1.0, 0.02),
        (block.mlp[0].weight, 64**-0.5, 0.02),
        (block.mlp[2].weight, 256**-0.5, residual),
        (block.attention.projection.weight, 64**-0.5, residual),
    ]
    for weight, fan_in, gpt2 in expected:
        assert weight.std().item() == pytest.approx(fan_in if init == "fan_in" else gpt2, rel=0.1)
    assert torch.all(block.mlp[0].bias == 0)
    assert torch.all(network.tokens.labels.weight == 0)  # a labelled network still starts as the unlabelled one


def test_an_unknown_init_is_refused_naming_the_option():
    with pytest.raises(UsageError, match=r"--model\.init must be fan_in or gpt2, got 'xavier'"):
        Transformer(VOCAB, block_size=7, width=8, layers=2, heads=2, init="xavier")
