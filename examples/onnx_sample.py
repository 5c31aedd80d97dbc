"""Sample names from a makemore-pl model exported to ONNX, with onnxruntime and numpy alone (no torch).

    makemore-pl export --ckpt_path <ckpt> --output model.onnx
    python examples/onnx_sample.py model.onnx --num 10 --temperature 0.8 --seed 1
    python examples/onnx_sample.py model.onnx --label fr          # a labelled model: names of one label
    python examples/onnx_sample.py model.onnx --prefix ka --top_k 5   # names that start with "ka", 5 best

The vocabulary (boundary first), the labels, the input layout and the sampling defaults come from
the file's metadata (key ``makemore_pl``, JSON; see docs/export.md). Each word starts after the
boundary and its prefix, and draws one character at a time from ``softmax(logits / temperature)``,
cut to the ``top_k`` likeliest characters, until it draws the boundary again, or reaches the
longest word the model samples.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import onnxruntime as ort


def load(path: str) -> tuple[ort.InferenceSession, dict]:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    meta = json.loads(session.get_modelmeta().custom_metadata_map["makemore_pl"])
    return session, meta


def next_logits(session: ort.InferenceSession, meta: dict, words: np.ndarray, label: np.ndarray | None) -> np.ndarray:
    """The next character's logits ``(n, V)`` after ``words`` ``(n, t)``: the boundary, then what was drawn."""
    if meta["input"] == "sequence":
        tokens = words  # the whole word so far; the logits after its last character are the last row
    else:  # a window: the last `context` characters, padded with the boundary (id 0) at the start
        context = meta["context"]
        padded = np.pad(words, ((0, 0), (max(0, context - words.shape[1]), 0)))
        tokens = padded[:, -context:]
    feed = {"tokens": tokens.astype(np.int64)}
    if label is not None:
        feed["label"] = label
    logits = session.run(["logits"], feed)[0]
    return logits[:, -1] if meta["input"] == "sequence" else logits


def sample(
    session: ort.InferenceSession,
    meta: dict,
    num: int,
    temperature: float,
    seed: int,
    label: str | None = None,
    top_k: int | None = None,
    prefix: str = "",
) -> list[str]:
    """``num`` words, drawn together (one batch of ``num`` rows); the same seed gives the same words.

    Each starts with ``prefix``; ``top_k`` keeps each draw to the likeliest characters (ties kept).
    """
    vocab, labels = meta["vocab"], meta["labels"]
    longest = meta["sampling"]["max_length"]
    unknown = sorted(set(prefix) - set(vocab[1:]))
    if unknown:
        raise SystemExit(f"--prefix {prefix!r}: {''.join(unknown)!r} is not in the model's vocabulary")
    if len(prefix) >= longest:
        raise SystemExit(f"--prefix {prefix!r}: leaves nothing to draw in words of at most {longest} characters")
    if top_k is not None and top_k < 1:
        raise SystemExit(f"--top_k must be at least 1, got {top_k}")
    if label is not None and (labels is None or label not in labels):
        raise SystemExit(f"--label {label!r}: the model knows {labels or 'no labels'}")
    if labels is not None and label is None:
        label = labels[0]
    label_ids = None if label is None else np.full(num, labels.index(label), dtype=np.int64)
    rng = np.random.default_rng(seed)
    # Every word starts after the boundary, with the prefix.
    words = np.tile([0, *(vocab.index(c) for c in prefix)], (num, 1)).astype(np.int64)
    done = np.zeros(num, dtype=bool)
    for _ in range(longest - len(prefix)):
        logits = next_logits(session, meta, words, label_ids).astype(np.float64) / temperature
        if top_k is not None and top_k < logits.shape[1]:
            kth = np.sort(logits, axis=1)[:, -top_k, None]
            logits = np.where(logits >= kth, logits, -np.inf)
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        drawn = np.array([rng.choice(len(vocab), p=p) for p in probs])
        drawn[done] = 0  # a finished word only pads
        words = np.concatenate([words, drawn[:, None]], axis=1)
        done |= drawn == 0
        if done.all():
            break
    return ["".join(vocab[i] for i in row[1:]) for row in _cut(words)]


def _cut(words: np.ndarray) -> list[np.ndarray]:
    """Each row up to (not including) its first boundary after the start."""
    rows = []
    for row in words:
        ends = np.flatnonzero(row[1:] == 0)
        rows.append(row[: 1 + ends[0]] if len(ends) else row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the .onnx file that `makemore-pl export` wrote")
    parser.add_argument("--num", type=int, default=10, help="how many names (default 10)")
    parser.add_argument("--temperature", type=float, default=None, help="default: the model's own")
    parser.add_argument("--seed", type=int, default=None, help="default: the export's sampling seed")
    parser.add_argument("--label", default=None, help="a labelled model: the label to sample (default: its first)")
    parser.add_argument("--top_k", type=int, default=None, help="draw from the k likeliest (default: the model's)")
    parser.add_argument("--prefix", default=None, help="what every word starts with (default: the model's)")
    args = parser.parse_args()
    session, meta = load(args.model)
    temperature = args.temperature if args.temperature is not None else meta["sampling"]["temperature"]
    if temperature <= 0:
        raise SystemExit(f"--temperature must be > 0, got {temperature}")
    seed = args.seed if args.seed is not None else meta["sampling"]["seed"]
    top_k = args.top_k if args.top_k is not None else meta["sampling"].get("top_k")
    prefix = args.prefix if args.prefix is not None else meta["sampling"].get("prefix") or ""
    for word in sample(session, meta, args.num, temperature, seed, args.label, top_k, prefix):
        print(word)


if __name__ == "__main__":
    main()
