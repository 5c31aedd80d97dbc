from collections import Counter

import pytest
import torch

from makemore_pl.data.batches import FullBatch, MiniBatches
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.records import Shard


def test_vocab_is_known_at_construction(tiny_file):
    dm = WordsDataModule(path=str(tiny_file))
    assert dm.vocab[0] == "." and dm.vocab_size == len(set("".join(tiny_file.read_text().split()))) + 1


def test_split_sizes_disjoint_by_word_and_deterministic(tiny_file):
    dm = WordsDataModule(path=str(tiny_file), seed=7)
    dm.setup()
    n = len(dm.words)
    sizes = {k: len(v) for k, v in dm.splits.items()}
    assert sizes == {"val": int(n * 0.1), "test": int(n * 0.1), "train": n - 2 * int(n * 0.1)}
    train, val, test = (set(dm.splits[k]) for k in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    assert train | val | test == set(dm.words)

    again = WordsDataModule(path=str(tiny_file), seed=7)
    again.setup()
    assert again.splits == dm.splits
    other = WordsDataModule(path=str(tiny_file), seed=8)
    other.setup()
    assert other.splits != dm.splits


def test_examples_are_int64_pairs_with_boundaries(tiny_file):
    dm = WordsDataModule(path=str(tiny_file))
    dm.setup()
    for split, words in dm.splits.items():
        x, y = dm.examples[split]
        assert x.dtype == y.dtype == torch.int64
        assert x.shape == (sum(len(w) + 1 for w in words), 1) and y.shape == (len(x),)
        assert (y == 0).sum() == len(words) and (x == 0).sum() == len(words)


def test_bigram_counts_on_a_tiny_file_match_a_hand_count(tmp_path):
    path = tmp_path / "w.txt"
    path.write_text("ab\nabb\n\n  ba \n")
    dm = WordsDataModule(path=str(path), val_fraction=0, test_fraction=0)
    dm.setup()
    x, y = dm.examples["train"]
    counts = Counter(zip(x[:, 0].tolist(), y.tolist()))
    # .ab. .abb. .ba.  ->  .a x2, ab x2, b. x2, bb x1, .b x1, ba x1, a. x1
    assert counts == {(0, 1): 2, (1, 2): 2, (2, 0): 2, (2, 2): 1, (0, 2): 1, (2, 1): 1, (1, 0): 1}
    assert dm.val_dataloader() == [] and dm.test_dataloader() == []


def test_full_batch_holds_each_distinct_example_once_with_its_count(tiny_file):
    dm = WordsDataModule(path=str(tiny_file))
    dm.setup()
    x, y = dm.examples["train"]
    ((bx, by, count, total, labels),) = list(FullBatch(x, y))
    assert labels is None
    expected = Counter(zip(x[:, 0].tolist(), y.tolist()))
    assert dict(zip(zip(bx[:, 0].tolist(), by.tolist()), count.tolist())) == expected
    assert total.item() == count.sum().item() == len(y)
    # Two processes' shares together hold every distinct example once, and each divides by
    # half the total: DDP's mean of their losses is the loss of the whole split.
    shares = [next(iter(FullBatch(x, y, Shard(r, 2)))) for r in range(2)]
    assert sum(len(s[0]) for s in shares) == len(bx)
    assert all(s[3].item() == len(y) / 2 for s in shares)


def test_mini_batches_cover_the_split_once_per_epoch_in_a_new_order():
    x, y = torch.arange(10)[:, None], torch.arange(10)
    epoch = [0]
    loader = MiniBatches(x, y, batch_size=4, seed=1, epoch=lambda: epoch[0])
    first = [b for b in loader]
    assert len(first) == len(loader) == 3
    assert sorted(torch.cat([b.y for b in first]).tolist()) == list(range(10))
    assert all(b.count.sum() == b.total == len(b.y) for b in first)
    assert torch.equal(torch.cat([b.y for b in loader]), torch.cat([b.y for b in first]))
    epoch[0] = 1
    assert not torch.equal(torch.cat([b.y for b in loader]), torch.cat([b.y for b in first]))
    # Two processes: disjoint, equal shares.
    ranks = [torch.cat([b.y for b in MiniBatches(x, y, 4, 1, lambda: 0, Shard(r, 2))]) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 5 and not set(ranks[0].tolist()) & set(ranks[1].tolist())


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("context", 0, "--data.context"),
        ("val_fraction", -0.1, "--data.val_fraction"),
        ("test_fraction", 1.0, "--data.test_fraction"),
        ("batch_size", 0, "--data.batch_size"),
    ],
)
def test_bad_options_name_the_option(tiny_file, option, value, message):
    from makemore_pl.errors import UsageError

    with pytest.raises(UsageError, match=message):
        WordsDataModule(path=str(tiny_file), **{option: value})
