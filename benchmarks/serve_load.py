"""`makemore-pl serve` under load: 1, 8 and 64 concurrent clients over loopback, beside in-process sampling.

    python benchmarks/serve_load.py                       # trains configs/mlp.yaml for one epoch, then 10 s a level
    python benchmarks/serve_load.py --ckpt_path <ckpt>    # any checkpoint
    python benchmarks/serve_load.py --quick               # the count bigram, 2 s a level

Each client POSTs /sample for ``--num_samples`` words with a seed of its own, over a kept-alive
connection, back to back for ``--seconds``. The baseline is the same model's batched sampling in
this process, ``generate`` on as many requests as the server batches at most (64), measured just
before and just after the clients, while the server sits idle: the ratio is the HTTP, queueing and
batching overhead. Goal at 64 clients: >= 50% of the in-process words/s, p99 < 1 s, no errors.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import torch
from common import CONFIGS, MAKEMORE_PL, NAMES, run

from makemore_pl.checkpoints import load_model
from makemore_pl.sampling.exact import generate
from makemore_pl.sampling.options import SamplingOptions
from makemore_pl.serve.process import serving

CLIENTS = (1, 8, 64)
# The server's default --max_batch_size: the most requests the in-process baseline samples at once.
BATCH = 64


def trained(workdir: Path, quick: bool) -> Path:
    """A checkpoint to serve: the count bigram (instant) for --quick, else the MLP after one epoch."""
    config, extra = ("counts", []) if quick else ("mlp", ["--trainer.max_epochs", "1"])
    logs = workdir / "logs"
    run([MAKEMORE_PL, "fit", "--config", str(CONFIGS / f"{config}.yaml"), "--data.path", str(NAMES),
         "--trainer.logger.init_args.save_dir", str(logs), "--trainer.enable_progress_bar", "false",
         *extra])  # fmt: skip
    return next(logs.glob(f"{config}/version_*/checkpoints/last.ckpt"))


def in_process(ckpt: Path, num_samples: int, seconds: float) -> float:
    """Words/s of ``generate`` on BATCH requests of ``num_samples`` words at a time, in this process."""
    model = load_model(ckpt)
    words, start, seed = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        requests = [SamplingOptions(num_samples=num_samples, seed=seed + i) for i in range(BATCH)]
        words += sum(len(result.words) for result in generate(model, requests))
        seed += BATCH
    return words / (time.perf_counter() - start)


def client(url: str, num_samples: int, seed: int, deadline: float, out: list) -> None:
    """POST /sample back to back until ``deadline``: appends (latency s, words, ok) per request to ``out``."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    headers = {"Content-Type": "application/json"}
    while time.perf_counter() < deadline:
        body = json.dumps({"num_samples": num_samples, "seed": seed})
        seed += 1
        start = time.perf_counter()
        try:
            connection.request("POST", "/sample", body, headers)
            response = connection.getresponse()
            answer = response.read()
            ok = response.status == 200
            words = len(json.loads(answer)["words"]) if ok else 0
        except (OSError, http.client.HTTPException, ValueError):
            ok, words = False, 0
            connection.close()  # a fresh connection for the next request
        out.append((time.perf_counter() - start, words, ok))
    connection.close()


def load(url: str, clients: int, num_samples: int, seconds: float) -> dict:
    """``clients`` concurrent clients for ``seconds``: words/s, latency percentiles and errors."""
    results: list[list] = [[] for _ in range(clients)]
    deadline = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=client, args=(url, num_samples, 1_000_000 * i, deadline, results[i]))
        for i in range(clients)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start  # to the last answer, which may come after the deadline
    done = [r for part in results for r in part]
    latencies = sorted(latency for latency, _, ok in done if ok)
    return {
        "requests": len(done),
        "words_per_s": sum(words for _, words, _ in done) / elapsed,
        "p50_ms": 1e3 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1e3 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else float("nan"),
        "errors": sum(not ok for _, _, ok in done),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt_path", type=Path, help="The checkpoint to serve (default: train one, see above).")
    parser.add_argument("--seconds", type=float, help="Seconds per level of clients (default 10, --quick 2).")
    parser.add_argument("--num_samples", type=int, default=20, help="Words per request.")
    parser.add_argument("--quick", action="store_true", help="The count bigram and 2 s per level.")
    parser.add_argument("--threads", type=int, help="torch threads, here and in the workers (1 on a shared machine).")
    args = parser.parse_args()
    if args.threads:
        # The server's workers read it when they import torch.
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        torch.set_num_threads(args.threads)
    seconds = args.seconds or (2 if args.quick else 10)
    with tempfile.TemporaryDirectory() as workdir:
        ckpt = args.ckpt_path or trained(Path(workdir), args.quick)
        model = load_model(ckpt)
        print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch "
              f"{torch.__version__}; {type(model).__name__} from {ckpt.name}, {args.num_samples} words a request, "
              f"{seconds:g} s a level\n")  # fmt: skip
        with serving(ckpt) as url:
            before = in_process(ckpt, args.num_samples, seconds)
            levels = {clients: load(url, clients, args.num_samples, seconds) for clients in CLIENTS}
            after = in_process(ckpt, args.num_samples, seconds)
    baseline = (before + after) / 2
    print(f"in-process generate, {BATCH} requests at a time: {baseline:,.0f} words/s "
          f"(before the clients {before:,.0f}, after {after:,.0f})\n")  # fmt: skip
    print("| clients | requests | words/s | of in-process | p50 | p99 | errors |")
    print("|---|---|---|---|---|---|---|")
    for clients, level in levels.items():
        print(f"| {clients} | {level['requests']:,} | {level['words_per_s']:,.0f} | "
              f"{level['words_per_s'] / baseline:.0%} | {level['p50_ms']:.0f} ms | {level['p99_ms']:.0f} ms | "
              f"{level['errors']} |")  # fmt: skip
    top = levels[CLIENTS[-1]]
    met = top["words_per_s"] >= 0.5 * baseline and top["p99_ms"] < 1000 and top["errors"] == 0
    print(f"\ngoal at {CLIENTS[-1]} clients (>= 50% of in-process, p99 < 1 s, no errors): {'met' if met else 'missed'}")


if __name__ == "__main__":
    main()
