"""Running text at scale (issue 22, section 6): does training memory stay flat from a 1 MB corpus to 100 MB?

For each corpus (built by scripts/build_corpus.py from Debian's linux-source, never committed):

- encoding throughput: the first ``encode_file``, into an empty cache (MB/s of the file);
- the reused cache's start-up: the same call again (a BLAKE2 pass over the file and a small JSON);
- peak resident memory of ``fit`` (``ru_maxrss`` of a fresh process that runs only the fit);
- training characters per second, from step 10 to the last (``configs/text/nanogpt_cpu.yaml``'s model).

    python benchmarks/text_scale.py --sizes 1MB 10MB 100MB --steps 40
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning as L

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from build_corpus import build, parse_size  # noqa: E402

from makemore_pl.callbacks import Dashboard  # noqa: E402
from makemore_pl.cli import MakemoreCLI, run_cli  # noqa: E402
from makemore_pl.data.tokens import encode_file  # noqa: E402

WARM_UP = 10  # steps before the clock starts: the first ones allocate


class Clock(L.Callback):
    def __init__(self) -> None:
        self.start = self.end = 0.0

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if trainer.global_step == WARM_UP:
            self.start = time.perf_counter()
        self.end = time.perf_counter()


def fit(corpus: Path, cache: Path, steps: int, logs: Path) -> dict:
    """One fit on ``corpus`` in this process: its training characters per second and peak RSS."""
    cli = run_cli(
        MakemoreCLI,
        ["--config", str(REPO / "configs/text/nanogpt_cpu.yaml"), "--data.path", str(corpus),
         "--data.cache_dir", str(cache), "--trainer.max_steps", str(steps), "--trainer.val_check_interval", str(steps),
         "--trainer.limit_val_batches", "2", "--trainer.num_sanity_val_steps", "0",
         "--trainer.logger.init_args.save_dir", str(logs), "--trainer.enable_progress_bar", "false",
         "--trainer.enable_model_summary", "false", "--trainer.accelerator", "cpu", "--trainer.devices", "1"],
        run=False,
    )  # fmt: skip
    clock = Clock()
    # Training alone: no sampled lines or embeddings (the Dashboard) in the figures.
    cli.trainer.callbacks = [c for c in cli.trainer.callbacks if not isinstance(c, Dashboard)] + [clock]
    cli.trainer.fit(cli.model, cli.datamodule)
    data = cli.datamodule
    chars = (steps - WARM_UP) * data.batch_size * data.block_size
    return {
        "chars_per_s": chars / (clock.end - clock.start),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(size: str, folder: Path, steps: int) -> dict:
    corpus = folder / f"corpus_{size}.txt"
    if not corpus.exists():
        build(parse_size(size), corpus)
    cache = folder / f"cache_{size}"
    megabytes = corpus.stat().st_size / 1e6
    begin = time.perf_counter()
    tokens = encode_file(corpus, cache_dir=cache)
    encoded = time.perf_counter() - begin
    begin = time.perf_counter()
    encode_file(corpus, cache_dir=cache)
    reused = time.perf_counter() - begin
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(corpus), str(cache), str(steps), str(folder / "logs")],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    return {"size": size, "mb": megabytes, "vocab": len(tokens.vocab), "dtype": tokens.dtype,
            "encode_mb_per_s": megabytes / encoded, "reuse_s": reused, **result}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["1MB", "10MB", "100MB"])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--folder", type=Path, default=None, help="Where corpora and caches go (a temporary folder).")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        corpus, cache, steps, logs = args.child
        print(json.dumps(fit(Path(corpus), Path(cache), int(steps), Path(logs))))
        return
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.folder or Path(temporary)
        print("| corpus | vocabulary | encoding (MB/s) | reused cache start-up (s) | peak RSS of fit (MB) | chars/s |")
        print("|---|---|---|---|---|---|")
        for size in args.sizes:
            r = measure(size, folder, args.steps)
            cells = [f"{r['mb']:.1f} MB", f"{r['vocab']} ({r['dtype']})", f"{r['encode_mb_per_s']:.1f}"]
            cells += [f"{r['reuse_s']:.2f}", f"{r['peak_rss_mb']:.0f}", f"{r['chars_per_s']:,.0f}"]
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
