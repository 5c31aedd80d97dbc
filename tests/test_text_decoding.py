"""Each family's text decoder against re-running the model on what it reads, over more than twice its context."""

import pytest
import torch

from makemore_pl.models import GRU, LSTM, MLP, RNN, BoW, CountNGram, NeuralNGram, Transformer, WaveNet
from makemore_pl.models.text_decoding import (
    CachedWindow,
    CarriedState,
    Cropped,
    LastCharacters,
    WindowAverage,
    readable_context,
    text_decoder,
)
from makemore_pl.models.transformer import KeysAndValues

# Running text's characters: a newline first, as a text file's sorted vocabulary often has it.
TEXT_VOCAB = list("\n !,abcdehilnorstw")
BLOCK = 6


SIZES = {"embedding": 4, "hidden": 8}
# Each family of model, built anew when asked for: a test may change its weights and dtype.
FAMILIES = {
    "NeuralNGram": lambda: NeuralNGram(TEXT_VOCAB, context=2),
    "CountNGram": lambda: CountNGram(TEXT_VOCAB, context=2),
    "MLP": lambda: MLP(TEXT_VOCAB, context=3, **SIZES),
    "MLP-bn": lambda: MLP(TEXT_VOCAB, context=3, batch_norm=True, **SIZES),
    "WaveNet": lambda: WaveNet(TEXT_VOCAB, context=4, **SIZES),
    "BoW": lambda: BoW(TEXT_VOCAB, block_size=BLOCK, width=8, hidden=8),
    "RNN": lambda: RNN(TEXT_VOCAB, block_size=BLOCK, **SIZES),
    "GRU": lambda: GRU(TEXT_VOCAB, block_size=BLOCK, **SIZES),
    "LSTM": lambda: LSTM(TEXT_VOCAB, block_size=BLOCK, layers=2, **SIZES),
    "Transformer": lambda: Transformer(TEXT_VOCAB, block_size=BLOCK, width=8, layers=2, heads=2),
}


def text_models():
    return [build() for build in FAMILIES.values()]


def randomised(model, dtype):
    """Weights N(0, 1) (count tables uniform): far from a trained model's, so nothing agrees by accident."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(generator=generator)
        if isinstance(model, CountNGram):
            model.counts.uniform_(0, 5, generator=generator)
    return model.to(dtype).eval()


def random_text(length, seed=1):
    return torch.randint(len(TEXT_VOCAB), (length,), generator=torch.Generator().manual_seed(seed)).tolist()


def assert_same_log_probs(decoder, reference, atol):
    torch.testing.assert_close(
        decoder.logits().log_softmax(0), reference.logits().log_softmax(0), atol=atol, rtol=0, check_dtype=False
    )


@pytest.mark.parametrize(("dtype", "atol"), [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("prompt_length", [0, 9])
@pytest.mark.parametrize("family", FAMILIES)
def test_the_decoder_gives_the_cropped_rerun_log_probabilities_past_the_context(family, prompt_length, dtype, atol):
    model = FAMILIES[family]()
    model = randomised(model, dtype) if dtype == torch.float64 else model.eval()
    assert all(p.dtype == dtype for p in model.parameters())
    prompt = random_text(prompt_length)
    decoder, reference = text_decoder(model, prompt), Cropped(model, prompt)
    assert type(decoder) is not Cropped
    assert_same_log_probs(decoder, reference, atol)
    context = readable_context(model) or BLOCK
    for token in random_text(3 * context + 2, seed=2):  # the window slides more than twice over
        decoder.feed(token), reference.feed(token)
        assert_same_log_probs(decoder, reference, atol)


def test_each_family_gets_its_own_decoder():
    kinds = [type(text_decoder(model.eval(), [1, 2])) for model in text_models()]
    assert kinds == [LastCharacters] * 5 + [WindowAverage] + [CarriedState] * 3 + [CachedWindow]


def test_a_recurrence_reads_the_whole_text_and_the_others_their_context():
    # A character far back changes a recurrence's next logits, and nothing else's.
    for model in text_models():
        model = randomised(model, torch.float64)
        text = random_text(4 * BLOCK)
        changed = [(text[0] + 1) % len(TEXT_VOCAB), *text[1:]]
        moved = not torch.equal(text_decoder(model, text).logits(), text_decoder(model, changed).logits())
        assert moved == (readable_context(model) is None), type(model).__name__


def test_the_refilling_transformer_reads_between_half_a_window_and_a_whole_one():
    model = randomised(Transformer(TEXT_VOCAB, block_size=BLOCK, width=8, layers=2, heads=2), torch.float64)
    text = random_text(3)
    decoder = text_decoder(model, text, slide="refill")
    read = len(text)  # the characters the cache holds
    for token in random_text(4 * BLOCK, seed=3):
        text.append(token)
        read = read + 1 if read < BLOCK else BLOCK // 2
        expected = model.next_logits(torch.tensor([text[-read:]]))[0]
        decoder.feed(token)
        torch.testing.assert_close(decoder.logits(), expected, atol=1e-10, rtol=0)
        assert BLOCK // 2 <= decoder.caches[0].length <= BLOCK


def test_a_transformer_prompt_longer_than_its_positions_is_cropped_in_one_causal_pass():
    model = randomised(Transformer(TEXT_VOCAB, block_size=BLOCK, width=8, layers=2, heads=2), torch.float64)
    prompt = random_text(3 * BLOCK)
    decoder = text_decoder(model, prompt)
    assert decoder.caches[0].length == BLOCK
    # Every position of the cached pass, not only the last, is the whole window's causal pass.
    whole = model.network.hidden(torch.tensor([prompt[-BLOCK:]]))
    caches = [KeysAndValues(BLOCK) for _ in model.network.blocks]
    torch.testing.assert_close(model.network.hidden(torch.tensor([prompt[-BLOCK:]]), None, caches), whole)
    torch.testing.assert_close(decoder.output, whole[:, -1])
