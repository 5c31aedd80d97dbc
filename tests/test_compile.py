"""``--model.compile true``: torch.compile of the network trains the same model, on the CPU too."""

import pytest
import torch._inductor.config
from conftest import fit_args

from makemore_pl.cli import MakemoreCLI, run_cli


def fitted(tmp_path, words, config, compile_network: bool) -> tuple[float, MakemoreCLI]:
    args = fit_args(tmp_path, words, config, "--trainer.max_epochs", "2", "--trainer.max_steps", "4")
    cli = run_cli(MakemoreCLI, ["fit", *args, "--model.compile", str(compile_network).lower()])
    return cli.trainer.callback_metrics["val/nll"].item(), cli


@pytest.mark.slow
@pytest.mark.parametrize("config", ["configs/mlp_bn.yaml", "configs/transformer.yaml"])
def test_a_compiled_fit_lands_on_the_same_loss(tmp_path, tiny_file, config):
    eager, _ = fitted(tmp_path, tiny_file, config, compile_network=False)
    # Compiled code draws its own random numbers; with fallback_random it draws eager's, so
    # dropout masks are the same.
    with torch._inductor.config.patch(fallback_random=True):
        compiled, cli = fitted(tmp_path, tiny_file, config, compile_network=True)
    assert cli.model._compiled is not None  # the compiled network really ran
    # Same seed, same batches: only the order of floating-point operations differs.
    assert compiled == pytest.approx(eager, abs=1e-4)
