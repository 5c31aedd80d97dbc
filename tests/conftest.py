import shutil
from collections import Counter
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
NAMES = REPO / "data" / "names.txt"
SHARED_NAMES = REPO.parent / "shared" / "data" / "names.txt"

# Forty-odd names: enough for an 80/10/10 split, small enough to fit in a second.
TINY_WORDS = [
    "emma",
    "olivia",
    "ava",
    "isabella",
    "sophia",
    "charlotte",
    "mia",
    "amelia",
    "harper",
    "evelyn",
    "abigail",
    "emily",
    "elizabeth",
    "mila",
    "ella",
    "avery",
    "sofia",
    "camila",
    "aria",
    "scarlett",
    "victoria",
    "madison",
    "luna",
    "grace",
    "chloe",
    "penelope",
    "layla",
    "riley",
    "zoey",
    "nora",
    "lily",
    "eleanor",
    "hannah",
    "lillian",
    "addison",
    "aubrey",
    "ellie",
    "stella",
    "natalie",
    "zoe",
    "leah",
]


# The makemore series' configs at a tiny size, with a few steps per epoch of the tiny words file
# (about 220 windows, or 33 training words): what each test needs to see them work, quickly.
SERIES = {
    "mlp": ["--model.embedding", "2", "--model.hidden", "8", "--data.batch_size", "64"],
    "mlp_bn": ["--model.embedding", "2", "--model.hidden", "8", "--data.batch_size", "64"],
    "wavenet": ["--model.embedding", "2", "--model.hidden", "8", "--data.batch_size", "64"],
    "bow": ["--model.width", "8", "--model.hidden", "8", "--data.batch_size", "8"],
    "rnn": ["--model.embedding", "4", "--model.hidden", "8", "--data.batch_size", "8"],
    "gru": ["--model.embedding", "4", "--model.hidden", "8", "--data.batch_size", "8"],
    "lstm": ["--model.embedding", "4", "--model.hidden", "8", "--data.batch_size", "8"],
    "transformer": ["--model.width", "8", "--model.layers", "1", "--model.heads", "2", "--data.batch_size", "8"],
}


# One config of each family of models, n-grams included: what "every model" means to a test.
FAMILY_CONFIGS = ["bigram", "counts", "mlp", "mlp_bn", "wavenet", "bow", "rnn", "gru", "lstm", "transformer"]


def tiny_args(tmp_path: Path, words: Path, name: str, *extra: str) -> list[str]:
    """``configs/<name>.yaml`` pointed at ``words`` like ``fit_args``; a series model at its tiny size."""
    return fit_args(tmp_path, words, f"configs/{name}.yaml", *SERIES.get(name, []), *extra)


def pytest_collection_modifyitems(config, items):
    # Files that take longest first, so that none starts last on one process while the other waits
    # (`make test` keeps this order: --no-loadscope-reorder). The files with tests marked slow
    # (whole processes, real names.txt), most first; then by their number of tests. The sort is
    # stable: each file's tests keep their order.
    slow = Counter(item.path for item in items if "slow" in item.keywords)
    size = Counter(item.path for item in items)
    items.sort(key=lambda item: (-slow[item.path], -size[item.path]))
    # Tests marked gpu are the only ones that may skip, and only where there is no CUDA device.
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="marked gpu, and this machine has no CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def words_file(path: Path, words: list[str]) -> Path:
    """``path``, holding ``words`` one a line."""
    path.write_text("\n".join(words) + "\n")
    return path


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    return words_file(tmp_path / "tiny.txt", TINY_WORDS)


@pytest.fixture(scope="session")
def names_file() -> Path:
    """The lecture's names.txt: data/names.txt, copied from ../shared/data when missing (as .ci/run does).

    It fails rather than skips when neither exists: these tests must run in CI.
    """
    if not NAMES.exists() and SHARED_NAMES.exists():
        NAMES.parent.mkdir(exist_ok=True)
        shutil.copyfile(SHARED_NAMES, NAMES)
    if not NAMES.exists():
        pytest.fail(f"{NAMES} is missing: run `makemore-pl fit --config configs/bigram.yaml` once to download it")
    return NAMES


def fit_args(tmp_path: Path, words: Path, config: str = "configs/bigram.yaml", *extra: str) -> list[str]:
    """A real config, pointed at ``words`` and at a log folder under ``tmp_path``, quiet."""
    return [
        "--config", str(REPO / config),
        "--data.path", str(words),
        "--trainer.logger.init_args.save_dir", str(tmp_path / "logs"),
        "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false",
        *extra,
    ]  # fmt: skip


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    # LightningCLI warns when given args while sys.argv holds pytest's own arguments.
    monkeypatch.setattr("sys.argv", ["makemore-pl"])
    # Whatever a run writes to a relative path lands in the test's folder, not the repository.
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def family_checkpoints(tmp_path_factory) -> tuple[dict[str, Path], Path]:
    """A real tiny checkpoint of each of ``FAMILY_CONFIGS`` (two steps of fit), and the words file they read.

    Fitted once for the whole session: the tests that read a checkpoint of every family share them.
    """
    from makemore_pl.cli import cli_main

    folder = tmp_path_factory.mktemp("families")
    words = words_file(folder / "tiny.txt", TINY_WORDS)
    found = {}
    for name in FAMILY_CONFIGS:
        limits = ["--trainer.max_epochs", "1", "--trainer.max_steps", "2", "--trainer.limit_val_batches", "1"]
        cli_main(["fit", *tiny_args(folder / name, words, name, *limits)])
        found[name] = next((folder / name / "logs").rglob("last.ckpt"))
    return found, words


# Running text for the text commands' tests: newlines, punctuation and capitals, a few thousand characters.
TEXT = "".join(f"ROMEO {i}: but soft, what light through yonder window breaks?\nJULIET: Ay me!\n" for i in range(50))


@pytest.fixture(scope="session")
def text_checkpoint(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny Transformer of running text (configs/text/nanogpt_cpu.yaml, 6 steps), and the text file it read.

    Fitted once for the session: predict, score, serve and export of a text model share it.
    """
    from makemore_pl.cli import cli_main

    folder = tmp_path_factory.mktemp("text")
    text = folder / "verse.txt"
    text.write_text(TEXT, encoding="utf-8")
    tiny = ["--model.width", "16", "--model.layers", "1", "--model.heads", "2", "--data.block_size", "16"]
    steps = ["--trainer.max_steps", "6", "--trainer.val_check_interval", "3", "--model.lr_scheduler", "null"]
    cache = ["--data.cache_dir", str(folder / "cache")]
    cli_main(["fit", *fit_args(folder, text, "configs/text/nanogpt_cpu.yaml", *tiny, *steps, *cache)])
    return next((folder / "logs").rglob("last.ckpt")), text
