"""Every family's own decoder, which carries its state, against the re-running one: the same logits, the same words."""

import pytest
import torch
from helpers import FAMILY_VOCAB as VOCAB
from helpers import every_family, label_table_of, randomised

from makemore_pl.models import GRU, LSTM, BoW, Transformer
from makemore_pl.sampling.decoders import Decoder, Rerunning

LABELS = ["x", "y", "z"]
# Dropout between layers, on the embeddings and in attention: off in eval, so the logits must agree.
WITH_DROPOUT = [
    GRU(VOCAB, block_size=6, embedding=4, hidden=8, layers=2, dropout=0.3),
    LSTM(VOCAB, block_size=6, embedding=4, hidden=8, layers=2, dropout=0.3),
    Transformer(VOCAB, block_size=6, width=8, layers=2, heads=2, dropout=0.3),
    BoW(VOCAB, block_size=6, width=8, hidden=8, dropout=0.3),
]
MODELS = [*every_family(), *every_family(labels=LABELS), *WITH_DROPOUT]


def name(model):
    return f"{type(model).__name__}{'-labelled' if model.labels else ''}{'-dropout' if model in WITH_DROPOUT else ''}"


def both_decoders(model, n, label=None) -> tuple[Decoder, Decoder]:
    return model.decoder(n, label), Rerunning(model.next_logits, n, label, model.device)


def assert_same_logits(carried: Decoder, rerun: Decoder) -> None:
    torch.testing.assert_close(carried.logits(), rerun.logits(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("model", MODELS, ids=name)
def test_the_carried_state_gives_the_rerunning_logits_at_random_feeds_and_keeps(model):
    model = randomised(model)
    generator = torch.Generator().manual_seed(1)
    n = 7
    label = torch.randint(len(LABELS), (n,), generator=generator) if model.labels else None
    if label is not None and hasattr(model, "network"):  # a table of zeros would not show a label lost on the way
        model.network.get_submodule(label_table_of(model)).weight.data.normal_(generator=generator)
    with model.evaluating():
        carried, rerun = both_decoders(model, n, label)
        assert type(carried) is not Rerunning
        assert_same_logits(carried, rerun)
        for _ in range(5):  # block_size 6: the boundary and five characters
            ix = torch.randint(len(VOCAB), (n,), generator=generator)
            carried.feed(ix), rerun.feed(ix)
            assert_same_logits(carried, rerun)
            # Finished rows leave and beams fork: drop some rows, repeat and reorder others.
            rows = torch.randint(n, (n + 1,), generator=generator)[: torch.randint(1, n + 2, (1,)).item()]
            carried.keep(rows), rerun.keep(rows)
            n = len(rows)
            assert_same_logits(carried, rerun)
        assert carried.length == rerun.length == 5
        carried.keep(torch.tensor([], dtype=torch.long))  # every word has ended
        assert carried.logits().shape == (0, len(VOCAB))


def draw(
    decoder: Decoder, num: int, max_length: int, generator: torch.Generator, temperature: float
) -> list[list[int]]:
    """Today's batched sampler (``sampling.sample_batched``), driving a decoder: every row draws at every step."""
    drawn = torch.zeros(num, 0, dtype=torch.long)
    alive = torch.ones(num, dtype=torch.bool)
    for _ in range(max_length):
        probs = torch.softmax(decoder.logits().float() / temperature, dim=-1)
        ix = torch.multinomial(probs, num_samples=1, generator=generator)[:, 0].masked_fill(~alive, 0)
        decoder.feed(ix)
        drawn = torch.cat([drawn, ix[:, None]], dim=1)
        alive &= ix != 0
        if not alive.any():
            break
    return [[i for i in row if i] for row in drawn.tolist()]


@pytest.mark.parametrize("model", every_family(labels=LABELS), ids=name)
def test_the_same_seed_draws_the_same_words_as_the_rerunning_sampler(model):
    model = randomised(model)
    label = torch.arange(300) % len(LABELS)
    words = {}
    with model.evaluating():
        for decoder in both_decoders(model, 300, label):
            words[type(decoder)] = draw(decoder, 300, 5, torch.Generator().manual_seed(0), temperature=4.0)
    carried, rerun = words.values()
    assert carried == rerun
    assert len({tuple(w) for w in carried}) > 50  # many different words, not one repeated


@pytest.mark.parametrize("model", [m for m in every_family() if isinstance(m, (GRU, LSTM, BoW, Transformer))], ids=name)
def test_the_carried_state_works_under_bf16_autocast(model):
    model = randomised(model)
    x = torch.tensor([[1, 2], [3, 4], [2, 2]])
    with model.evaluating(), torch.autocast("cpu", dtype=torch.bfloat16):
        carried, rerun = both_decoders(model, 3)
        for t in range(2):
            carried.feed(x[:, t]), rerun.feed(x[:, t])
        carried.keep(torch.tensor([2, 0]))
        rerun.keep(torch.tensor([2, 0]))
        ours, theirs = carried.logits(), rerun.logits()
    assert ours.dtype == theirs.dtype
    # bfloat16 keeps 8 bits of mantissa: the two orders of the same sums agree to about 1%.
    torch.testing.assert_close(ours.float(), theirs.float(), atol=0.1, rtol=0.02)


@pytest.mark.gpu
@pytest.mark.parametrize("model", every_family(), ids=name)
def test_the_state_lives_on_the_models_device(model):
    model = randomised(model).to("cuda")
    with model.evaluating():
        decoder = model.decoder(4)
        decoder.feed(torch.tensor([1, 2, 3, 4]))  # on the CPU: the decoder moves it
        decoder.keep(torch.tensor([3, 1]))
        logits = decoder.logits()
    assert logits.device.type == "cuda" and logits.shape == (2, len(VOCAB))
