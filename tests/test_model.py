import math
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from makemore_pl.data.batches import FullBatch, MiniBatches
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.records import Batch
from makemore_pl.errors import UsageError
from makemore_pl.models.neural import NeuralNGram
from makemore_pl.sampling.table import sample_words_parallel


@pytest.fixture
def setup(tiny_file):
    dm = WordsDataModule(path=str(tiny_file), context=1)
    dm.setup()
    model = NeuralNGram(dm.vocab, l2=0.01)
    return dm, model


def test_the_only_parameter_is_w(setup):
    _, model = setup
    assert [name for name, _ in model.named_parameters()] == ["W"]
    assert model.W.shape == (model.vocab_size, model.vocab_size)


def test_loss_equals_a_hand_computation():
    model = NeuralNGram([".", "a", "b"], l2=0.5)
    with torch.no_grad():
        model.W.copy_(torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0], [0.0, 0.0, 3.0]]))
    x, y = torch.tensor([[0], [1]]), torch.tensor([2, 0])
    nll = model.nll(Batch(x, y, torch.ones(2), torch.tensor(2.0)))
    # -log softmax([0,1,2])[2] and -log softmax([1,0,0])[0]
    hand = (-(2 - math.log(1 + math.e + math.e**2)) - (1 - math.log(math.e + 2))) / 2
    assert nll.item() == pytest.approx(hand, rel=1e-6)
    loss, _ = model.objective(Batch(x, y, torch.ones(2), torch.tensor(2.0)))
    assert loss.item() == pytest.approx(hand + 0.5 * (model.W**2).mean().item(), rel=1e-6)


def test_loss_equals_the_lectures_one_hot_formulation(setup):
    dm, model = setup
    x, y = dm.examples["train"]
    xenc = F.one_hot(x[:, 0], num_classes=model.vocab_size).float()
    counts = (xenc @ model.W).exp()
    probs = counts / counts.sum(1, keepdim=True)
    lecture = -probs[torch.arange(len(y)), y].log().mean() + 0.01 * (model.W**2).mean()
    ours, _ = model.objective(next(iter(FullBatch(x, y))))
    assert ours.item() == pytest.approx(lecture.item(), rel=1e-5)


@pytest.mark.parametrize("context", [1, 2])
def test_counted_full_batch_has_the_plain_loss_and_gradient(tiny_file, context):
    dm = WordsDataModule(path=str(tiny_file), context=context)
    dm.setup()
    x, y = dm.examples["train"]
    model = NeuralNGram(dm.vocab, context=context)

    plain = F.cross_entropy(model.W[model.rows(x)], y)
    (plain_grad,) = torch.autograd.grad(plain, model.W)
    counted = model.nll(next(iter(FullBatch(x, y))))
    (counted_grad,) = torch.autograd.grad(counted, model.W)
    assert counted.item() == pytest.approx(plain.item(), rel=1e-6)
    torch.testing.assert_close(counted_grad, plain_grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("count", [True, False], ids=["counted", "plain"])
def test_mini_batch_loss_and_gradient_are_the_plain_ones(setup, count):
    dm, model = setup
    x, y = dm.examples["train"]
    batches = list(MiniBatches(x, y, batch_size=32, seed=0, epoch=lambda: 0, count=count))
    # The same shuffled slices, uncounted: what a plain loop would feed F.cross_entropy.
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    for i, batch in enumerate(batches):
        index = order[i * 32 : (i + 1) * 32]
        plain = F.cross_entropy(model.W[x[index, 0]], y[index])
        ours = model.nll(batch)
        torch.testing.assert_close(ours, plain)
        torch.testing.assert_close(torch.autograd.grad(ours, model.W)[0], torch.autograd.grad(plain, model.W)[0])


def test_sampling_is_reproducible_and_honours_the_seed(setup):
    _, model = setup
    assert model.sample(num_samples=10, seed=3) == model.sample(num_samples=10, seed=3)
    assert model.sample(num_samples=10, seed=3) != model.sample(num_samples=10, seed=4)
    assert all(set(w) <= set(model.itos[1:]) for w in model.sample(num_samples=10, seed=3))


def test_temperature_sharpens_sampling():
    # After the boundary 'a' is a little likelier than 'b'; after a letter, the boundary is.
    w = torch.tensor([[-9.0, 1.0, 0.5], [1.0, 0.5, 0.5], [1.0, 0.5, 0.5]])
    model = NeuralNGram([".", "a", "b"])
    with torch.no_grad():
        model.W.copy_(w)
    # Near zero temperature every draw is the most likely next character.
    assert model.sample(temperature=0.05, num_samples=50, seed=0) == ["a"] * 50
    assert len(set(model.sample(num_samples=50, seed=0))) > 3


def test_sampling_stops_at_the_length_cap():
    model = NeuralNGram([".", "a"])
    with torch.no_grad():
        model.W.copy_(torch.tensor([[-1e4, 1e4], [-1e4, 1e4]]))  # never draws the boundary
    # exact false: exact sampling draws no word of these
    assert model.sample(max_length=7, exact=False, num_samples=3, seed=0) == ["aaaaaaa"] * 3
    parallel = sample_words_parallel(model.probs_table(), model.itos, 1, 3, torch.Generator().manual_seed(0), 7)
    assert parallel == ["aaaaaaa"] * 3


@pytest.mark.parametrize("context", [1, 2])
def test_parallel_sampling_draws_from_the_same_distribution(tiny_file, context):
    dm = WordsDataModule(path=str(tiny_file), context=context)
    # exact false: both cut a word at the cap (exact sampling would not draw the words that reach it).
    model = NeuralNGram(dm.vocab, context=context)
    with torch.no_grad():  # words of about five characters, not of about the vocabulary's size: 4,000 draw quickly
        model.W[:, 0] += 2.0
    generator = torch.Generator().manual_seed(0)
    parallel = sample_words_parallel(model.probs_table(), model.itos, context, 4000, generator, 50)
    sequential = model.sample(exact=False, num_samples=4000, seed=1)
    # Same model, same distribution: the mean word length and the first-letter frequencies agree.
    mean_length = [sum(map(len, words)) / len(words) for words in (parallel, sequential)]
    assert abs(mean_length[0] - mean_length[1]) < 0.1 * mean_length[1]
    firsts = [Counter(w[:1] for w in words) for words in (parallel, sequential)]
    for letter, count in firsts[1].most_common(3):
        assert abs(firsts[0][letter] - count) < 0.25 * count + 30
    probs = model.probs_table()
    draws = [sample_words_parallel(probs, model.itos, context, 20, torch.Generator().manual_seed(5), 50) for _ in "ab"]
    assert draws[0] == draws[1]  # reproducible from the seed


def test_a_checkpoint_of_another_vocabulary_is_refused(setup):
    _, model = setup
    ckpt = {}
    model.on_save_checkpoint(ckpt)
    assert ckpt["vocab"] == model.itos
    other = NeuralNGram([".", "x", "y"])
    with pytest.raises(UsageError, match="another vocabulary"):
        other.on_load_checkpoint(ckpt)


def test_bad_model_options_name_the_option():
    with pytest.raises(UsageError, match=r"--model\.l2"):
        NeuralNGram([".", "a"], l2=-1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"temperature": 0.0}, "--sampling.temperature"), ({"max_length": 0}, "--sampling.max_length")],
)
def test_bad_sampling_options_name_the_option(kwargs, message):
    with pytest.raises(UsageError, match=message):
        NeuralNGram([".", "a"]).sample(**kwargs)


def test_the_checkpoint_holds_no_sampling_option():
    from makemore_pl.sampling.options import SamplingOptions

    model = NeuralNGram([".", "a"])
    assert not set(model.hparams) & {*SamplingOptions.__dataclass_fields__, "sample_seed"}
