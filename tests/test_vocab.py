import torch

from makemore_pl.data.vocab import Vocabulary


def lecture_pairs(words, vocab):
    """The lecture's loop: boundary, the word's characters, boundary; consecutive pairs."""
    xs, ys = [], []
    for w in words:
        chs = [0, *vocab.encode(w), 0]
        for a, b in zip(chs, chs[1:]):
            xs.append(a)
            ys.append(b)
    return xs, ys


def test_vocabulary_is_sorted_characters_after_the_boundary():
    vocab = Vocabulary.from_words(["emma", "bob"])
    assert vocab.itos == [".", "a", "b", "e", "m", "o"]
    assert vocab.boundary == "." and vocab.stoi["."] == 0


def test_encode_decode_round_trip():
    vocab = Vocabulary.from_words(["emma", "olivia"])
    for word in ["emma", "olivia", "mole"]:
        assert vocab.decode(vocab.encode(word)) == word


def test_boundary_never_collides_with_the_data():
    words = ["dr.who", "o'neil", "jean-luc", "Zoë", "🙂ok"]
    vocab = Vocabulary.from_words(words)
    assert vocab.boundary not in "".join(words)
    assert "." in vocab.itos[1:] and vocab.itos[0] == "\n"
    for word in words:
        assert vocab.decode(vocab.encode(word)) == word
    x, y = vocab.encode_words(words, 1)
    assert (x[:, 0].tolist(), y.tolist()) == lecture_pairs(words, vocab)


def test_encode_words_matches_the_lecture_loop():
    words = ["emma", "ab", "x"]
    vocab = Vocabulary.from_words(words)
    x, y = vocab.encode_words(words, 1)
    assert x.dtype == y.dtype == torch.int64
    assert x.shape == (len(y), 1) and len(y) == sum(len(w) + 1 for w in words)
    assert (x[:, 0].tolist(), y.tolist()) == lecture_pairs(words, vocab)


def test_trigram_contexts_are_padded_with_the_boundary_at_each_word_start():
    vocab = Vocabulary.from_words(["emma", "ab"])
    e, m, a, b = (vocab.stoi[c] for c in "emab")
    x, y = vocab.encode_words(["emma", "ab"], 2)
    assert x.tolist() == [[0, 0], [0, e], [e, m], [m, m], [m, a], [0, 0], [0, a], [a, b]]
    assert y.tolist() == [e, m, m, a, 0, a, b, 0]
