"""Whole words as data: padded encoding, word batches, exact evaluation chunks, and the layout each model reads."""

from pathlib import Path

import lightning as L
import pytest
import torch

from makemore_pl.data.batches import EvalBatches, FullBatch, MiniBatches, WordBatches
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.records import COUNTED, WINDOWS, WORDS, Batch, Shard
from makemore_pl.data.remembered import COPY_LIMIT, words_state
from makemore_pl.data.vocab import PAD, Vocabulary
from makemore_pl.errors import UsageError
from makemore_pl.models import GRU, MLP, CountNGram, NeuralNGram, Transformer


def test_padded_words_read_the_boundary_then_the_word_and_predict_the_word_then_the_boundary():
    vocab = Vocabulary.from_words(["emma", "ab", "x"])
    x, y = vocab.encode_padded(["emma", "ab", "x"], 6)
    assert x.dtype == y.dtype == torch.int64 and x.shape == y.shape == (3, 6)
    for row, word in enumerate(["emma", "ab", "x"]):
        ids = vocab.encode(word)
        assert x[row].tolist() == [0, *ids] + [0] * (5 - len(word))
        assert y[row].tolist() == [*ids, 0] + [PAD] * (5 - len(word))
    # Each position's target is the next position's input: the windows of context 1, word by word.
    windows = vocab.encode_words(["emma", "ab", "x"], 1)
    kept = y != PAD
    assert x[kept].tolist() == windows[0][:, 0].tolist() and y[kept].tolist() == windows[1].tolist()


def test_padded_words_with_a_dot_in_the_data_use_the_newline_boundary():
    vocab = Vocabulary.from_words(["a.b", "c"])
    x, y = vocab.encode_padded(["a.b", "c"], 4)
    assert vocab.boundary == "\n" and vocab.decode(x[0, 1:].tolist()) == "a.b"
    assert y[1].tolist() == [vocab.stoi["c"], 0, PAD, PAD]


def test_a_word_longer_than_the_rows_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        Vocabulary.from_words(["abc"]).encode_padded(["abc"], 3)


def padded(lengths, seed=0):
    """Words of the given lengths over 'ab', encoded in rows of the longest + 1."""
    generator = torch.Generator().manual_seed(seed)
    words = ["".join("ab"[int(i)] for i in torch.randint(0, 2, (n,), generator=generator)) for n in lengths]
    return words, Vocabulary([".", "a", "b"]).encode_padded(words, max(lengths) + 1)


def rows_of(batches, x) -> list[tuple[int, ...]]:
    """The rows of ``x`` that ``batches`` served, in order, padded back to the full width."""
    return [tuple(r) for b in batches for r in torch.nn.functional.pad(b.x, (0, x.shape[1] - b.x.shape[1])).tolist()]


def test_word_batches_cover_the_split_once_per_epoch_in_a_seeded_order_cut_to_their_longest_word():
    words, (x, y) = padded([1, 7, 2, 3, 9, 1, 4, 4, 2, 5, 6])
    epoch = [0]
    loader = WordBatches(x, y, batch_size=3, seed=5, epoch=lambda: epoch[0])
    first = list(loader)
    assert len(first) == len(loader) == 4
    for bx, by, count, total, labels in first:
        lengths = (by != PAD).sum(1)
        assert count is None and labels is None and bx.shape == by.shape
        assert bx.shape[1] == lengths.max() == (bx[:, 1:] != 0).sum(1).max() + 1  # cut to its longest word
        assert total.item() == lengths.sum().item()  # the mean over this batch's predicted characters
    # Every word exactly once, each row its own word (padding aside).
    decoded = sorted(Vocabulary([".", "a", "b"]).decode([i for i in r[1:] if i]) for r in rows_of(first, x))
    assert decoded == sorted(words)
    assert rows_of(loader, x) == rows_of(first, x)  # the same seed and epoch: the same order
    epoch[0] = 1
    assert rows_of(loader, x) == rows_of(loader, x) != rows_of(first, x)  # a new epoch: a new order, still seeded
    assert rows_of(WordBatches(x, y, 3, seed=6, epoch=lambda: 0), x) != rows_of(first, x)


def test_word_batches_give_two_processes_equal_disjoint_shares():
    _, (x, y) = padded([3, 1, 4, 1, 5, 9, 2, 6, 5])  # 9 words: each of 2 processes gets 4
    shares = [WordBatches(x, y, 3, seed=1, epoch=lambda: 0, shard=Shard(r, 2)) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == len(list(shares[0])) == len(list(shares[1])) == 2
    picked = [rows_of(share, x) for share in shares]
    assert len(picked[0]) == len(picked[1]) == 4
    order = rows_of(WordBatches(x, y, 9, seed=1, epoch=lambda: 0), x)
    # The same seeded order, dealt out alternately: rank 0 the even places, rank 1 the odd ones.
    assert picked[0] == order[0:8:2] and picked[1] == order[1:8:2]


def bigram_rows(tiny_file: Path, layout: str):
    """Eight words encoded in ``layout`` (x, y), and an untrained bigram's logits for a batch's x."""
    words = tiny_file.read_text().split()[:8]
    vocab = Vocabulary.from_words(words)
    model = NeuralNGram(vocab.itos, context=1)
    if layout == "words":
        x, y = vocab.encode_padded(words, max(map(len, words)) + 1)
        return x, y, lambda bx: model.W[bx]  # the bigram at every position of a word
    x, y = vocab.encode_words(words, 1)
    return x, y, lambda bx: model.W[bx[:, 0]]


@pytest.mark.parametrize("layout", ["windows", "counted", "words"])
@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_evaluation_chunks_sum_to_the_whole_splits_mean_for_any_chunk_size(tiny_file, layout, world_size):
    x, y, logits = bigram_rows(tiny_file, layout)
    with torch.no_grad():
        kept = y != PAD
        whole = torch.nn.functional.cross_entropy(logits(x)[kept], y[kept]).item()
        for chunk in (1, 3, 8, 10_000):
            shares = [
                EvalBatches(x, y, chunk, Shard(r, world_size), counted=layout == "counted") for r in range(world_size)
            ]
            assert len({len(share) for share in shares}) == 1, "every process gets the same number of chunks"
            total = 0.0
            for share in shares:
                for bx, by, count, split_total, labels in share:
                    assert labels is None
                    assert split_total.item() == kept.sum().item()
                    if by.numel():
                        losses = torch.nn.functional.cross_entropy(
                            logits(bx).flatten(0, -2), by.flatten(), ignore_index=PAD, reduction="none"
                        )
                        total += ((losses if count is None else losses * count).sum() / split_total).item()
                        assert layout != "words" or (by != PAD).sum(1).max() == by.shape[1]  # cut to its longest
            assert total == pytest.approx(whole, rel=1e-6), (chunk, world_size)


@pytest.mark.parametrize("layout", ["windows", "counted", "words"])
@pytest.mark.parametrize("limit", [2, 0.5])
@pytest.mark.parametrize("world_size", [1, 2])
def test_evaluation_cut_by_lightnings_limit_is_the_mean_over_the_chunks_read(tiny_file, layout, world_size, limit):
    # limit_val_batches / limit_test_batches: each process reads its first chunks; the mean is over their
    # predictions, not their sum over the whole split's.
    x, y, logits = bigram_rows(tiny_file, layout)
    shares = [
        EvalBatches(x, y, 1, Shard(r, world_size), counted=layout == "counted", limit=limit) for r in range(world_size)
    ]
    read = limit if isinstance(limit, int) else int(len(shares[0]) * limit)
    assert 1 <= read < len(shares[0])
    logged, losses_read, predicted = 0.0, 0.0, 0.0
    with torch.no_grad():
        for share in shares:
            for bx, by, count, total, _ in list(share)[:read]:
                weights = torch.ones_like(by, dtype=torch.float) if count is None else count
                losses = torch.nn.functional.cross_entropy(
                    logits(bx).flatten(0, -2), by.flatten(), ignore_index=PAD, reduction="none"
                )
                losses = losses.view(by.shape) * weights
                logged += (losses.sum() / total).item()
                losses_read += losses.sum().item()
                predicted += (weights * (by != PAD)).sum().item()
    assert predicted < (y != PAD).sum().item()  # some of the split was left unread
    assert logged == pytest.approx(losses_read / predicted, rel=1e-6)


def test_more_processes_than_words_leave_empty_chunks_that_add_nothing():
    _, (x, y) = padded([2, 3])
    shares = [list(EvalBatches(x, y, 4, Shard(r, 3))) for r in range(3)]
    assert [len(s) for s in shares] == [1, 1, 1]
    assert shares[2][0][1].numel() == 0
    model = NeuralNGram([".", "a", "b"])
    assert model.nll(shares[2][0]).item() == 0.0


def attached(dm: WordsDataModule, model) -> WordsDataModule:
    """The data module as Lightning sees it during fit: with a trainer whose module is ``model``."""
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False)
    trainer.strategy.connect(model)
    dm.trainer = trainer
    dm.setup("fit")
    return dm


@pytest.mark.parametrize(
    ("factory", "layout"),
    [
        (lambda v: NeuralNGram(v, context=2), COUNTED),
        (lambda v: CountNGram(v, context=2), COUNTED),
        (lambda v: MLP(v, context=2, embedding=2, hidden=4), WINDOWS),
        (lambda v: GRU(v, block_size=10, embedding=2, hidden=4), WORDS),
        (lambda v: Transformer(v, block_size=10, width=4, layers=1, heads=1), WORDS),
    ],
    ids=["neural", "counts", "mlp", "gru", "transformer"],
)
@pytest.mark.parametrize("batch_size", [None, 4])
def test_the_data_module_serves_what_the_attached_model_reads(tiny_file, factory, layout, batch_size):
    dm = WordsDataModule(path=str(tiny_file), context=2, batch_size=batch_size, eval_batch_size=5)
    model = factory(dm.vocab)
    assert model.layout == layout
    dm = attached(dm, model)
    train = dm.train_dataloader()
    x, y, count, total, labels = next(iter(train))
    assert labels is None
    if layout == WORDS:
        assert isinstance(train, FullBatch if batch_size is None else WordBatches)
        assert x.shape == y.shape and x.shape[1] <= dm.block_size and (x[:, 0] == 0).all()
        assert (y == PAD).any() and count is None
    else:
        assert isinstance(train, FullBatch if batch_size is None else MiniBatches)
        assert x.shape == (len(y), 2) and y.ndim == 1
        assert (count is not None) == (layout == COUNTED)  # BatchNorm must see the plain windows
    val = list(dm.val_dataloader())
    assert isinstance(dm.val_dataloader(), EvalBatches) and all(len(b.y) <= 5 for b in val)
    assert (val[0].y.ndim == 2) == (layout == WORDS)
    assert model.nll(Batch(x, y, count, total)).isfinite()


def test_without_a_model_the_data_module_serves_counted_windows(tiny_file):
    dm = WordsDataModule(path=str(tiny_file))
    dm.setup()
    assert dm.layout == COUNTED and dm.examples and not dm.sequences


def test_block_size_is_the_longest_word_plus_the_boundary(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("ab\r\n  abcdefg  \r\nx\n\n")
    dm = WordsDataModule(path=str(path))
    assert dm.block_size == len("abcdefg") + 1


def test_a_word_longer_than_max_word_length_is_refused_with_its_line(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("ab\n\nabc\n" + "x" * 12 + "\nabcd\n" + "y" * 12 + "\nab\nba\nbb\naa\n")
    dm = WordsDataModule(path=str(path), max_word_length=11)
    with pytest.raises(UsageError, match=r"w\.txt, line 4: a word of 12 characters.*--data\.max_word_length 11"):
        attached(dm, GRU(dm.vocab, block_size=dm.block_size, embedding=2, hidden=2))
    # A model that reads windows reads any length.
    dm = attached(WordsDataModule(path=str(path), max_word_length=11, context=3), MLP(dm.vocab, embedding=2, hidden=2))
    assert dm.examples["train"][0].shape[1] == 3


def test_the_block_size_linked_to_a_model_never_exceeds_max_word_length(tmp_path):
    # The model is built from block_size before the data is set up and refuses the word: a
    # Transformer's position table must not grow with a word that is about to be refused.
    path = tmp_path / "w.txt"
    path.write_text("ab\n" + "x" * 100_000 + "\n")
    dm = WordsDataModule(path=str(path), max_word_length=30)
    assert dm.block_size == 31
    assert WordsDataModule(path=str(path), max_word_length=200_000).block_size == 100_001


@pytest.mark.parametrize(("size", "sizes"), [(9, [4, 5]), (8, [4, 4]), (10, [4, 4, 2]), (1, [1])])
def test_a_last_mini_batch_of_one_window_joins_the_one_before(size, sizes):
    x, y = torch.arange(size)[:, None], torch.arange(size)
    loader = MiniBatches(x, y, batch_size=4, seed=0, epoch=lambda: 0, count=False)
    batches = list(loader)
    assert [len(b.y) for b in batches] == sizes and len(loader) == len(sizes)
    assert sorted(torch.cat([b.y for b in batches]).tolist()) == list(range(size))


def test_a_checkpoint_keeps_a_modest_word_list_itself_and_a_long_ones_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert words_state(["emma", "ava"], Path("tiny.txt")) == {"train_words": "emma\nava"}
    long = ["x" * 999] * (COPY_LIMIT // 1000 + 1)  # with their newlines, over the limit
    assert words_state(long, Path("big.txt")) == {"path": str(tmp_path / "big.txt")}
