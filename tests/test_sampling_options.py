"""SamplingOptions is the one definition of the sampling options: everything that names them derives from it."""

import re
from dataclasses import asdict, fields

import pytest

from makemore_pl.errors import UsageError
from makemore_pl.models import GRU, NeuralNGram
from makemore_pl.sampling.options import SamplingOptions, field_help
from makemore_pl.serve.schema import SampleRequest

NAMES = [f.name for f in fields(SamplingOptions)]
UI = __import__("pathlib").Path(__file__).parents[1] / "makemore_pl" / "serve" / "ui"


def test_every_option_has_its_own_docstring_as_help():
    helps = field_help()
    assert list(helps) == NAMES and len(NAMES) == 16
    assert all(len(text) > 20 and "\n" not in text for text in helps.values())
    assert helps["seed"].startswith("Seed of the sampling generator")


def test_the_servers_request_takes_every_option_with_its_help_and_nothing_else():
    schema = SampleRequest.model_json_schema()["properties"]
    assert list(schema) == NAMES
    assert all(schema[name]["description"] == text for name, text in field_help().items())
    request = SampleRequest(num_samples=3, seed=4, label="f", exact=False)
    assert SamplingOptions(**request.options()) == SamplingOptions(num_samples=3, seed=4, label=["f"], exact=False)
    with pytest.raises(ValueError, match="sample_seed"):
        SampleRequest(sample_seed=3)  # the old name is refused, not ignored


def test_the_pages_form_has_a_field_for_every_option():
    page = (UI / "index.html").read_text()
    form = page[page.index('<form id="sample-form"') : page.index("</form>")]
    ids = set(re.findall(r'<(?:input|select) id="(\w+)"', form))
    assert ids == set(NAMES)
    script = (UI / "app.js").read_text()
    sent = set(
        re.findall(r'"(\w+)"', script[script.index("const TEXT_OPTIONS") : script.index("function renderWords")])
    )
    assert set(NAMES) - {"temperature", "label", "exact"} <= sent  # temperature, label and exact by name below
    assert all(f"request.{name}" in script or f"{{ {name}:" in script for name in ("temperature", "label", "exact"))


def test_exports_metadata_holds_every_option_at_its_default():
    from makemore_pl.export.onnx import metadata

    model = GRU([".", "a", "b"], block_size=6, embedding=2, hidden=2)
    meta = metadata(model)
    assert list(meta["sampling"]) == NAMES
    assert meta["sampling"] == {**asdict(SamplingOptions()), "max_length": 5}  # the model's positions


def test_options_are_checked_against_the_model_when_it_samples_never_when_it_is_built():
    model = NeuralNGram([".", "a", "b"])  # no sampling option to give, none to refuse
    with pytest.raises(UsageError, match=r"^--sampling\.prefix 'aq': 'q' not in the vocabulary"):
        model.sample(prefix="aq")
    with pytest.raises(UsageError, match=r"^--sampling\.num_samples must be at least 1"):
        model.sample(num_samples=0)


def test_sampling_and_scoring_never_import_the_models():
    import ast

    package = UI.parents[1]
    for folder in ("sampling", "scoring"):
        for path in (package / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                assert not any(name.startswith(("makemore_pl.models", "makemore_pl.callbacks")) for name in names), path
