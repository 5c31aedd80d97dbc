"""`makemore-pl serve`: the real server on 127.0.0.1, its API beside predict, bad requests, its page in Chromium."""

import http.client
import json
import math
import shutil
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import torch
import uvicorn
from conftest import SERIES, TINY_WORDS, tiny_args
from fastapi import FastAPI
from helpers import printed_words, run_dir
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from makemore_pl.checkpoints import load_model, training_words
from makemore_pl.cli import cli_main
from makemore_pl.continuation import continue_text
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.sampling.options import SamplingOptions
from makemore_pl.serve.apis import SampleAPI, ScoreAPI
from makemore_pl.serve.errors import JsonErrors, answer_errors_as_json
from makemore_pl.serve.process import free_port, healthy, serving
from makemore_pl.serve.schema import MAX_BODY_BYTES, MAX_SAMPLES, MAX_SCORED_TEXT, SampleRequest, ScoreRequest
from makemore_pl.text_scoring import score_text


def ending(word: str) -> str:
    """The label of a word in the served model's file: whether it ends in an "a"."""
    return "a" if word.endswith("a") else "other"


def train(folder: Path, name: str, *extra: str, labelled: bool = False) -> Path:
    """``configs/<name>.yaml`` fitted on TINY_WORDS through the real command, at its tiny size: its last checkpoint.

    Labelled, each line is ``word<TAB>label`` with the word's ``ending``.
    """
    words = folder / "tiny.txt"
    words.write_text("".join(f"{word}\t{ending(word)}\n" if labelled else f"{word}\n" for word in TINY_WORDS))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.argv", ["makemore-pl"])
        patch.chdir(folder)
        cli_main(["fit", *tiny_args(folder, words, name, "--data.labelled", str(labelled).lower(), *extra)])
    return run_dir(folder, name) / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    # A labelled bigram: 30 full-batch steps give its characters probabilities far apart, for the
    # page's colours, and its two labels posteriors far apart ("emma" ends in an "a").
    return train(tmp_path_factory.mktemp("serve"), "bigram", "--trainer.max_epochs", "30", labelled=True)


@pytest.fixture(scope="module")
def server(ckpt) -> str:
    with serving(ckpt) as url:
        yield url


def call(url: str, path: str, body=None, headers: dict | None = None) -> tuple[int, object]:
    """``body`` POSTed as JSON (bytes as they are), or a GET without one: the status and the parsed answer."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data, {"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


def sample(url: str, **body) -> list[str]:
    status, answer = call(url, "/sample", body)
    assert status == 200, answer
    return [w["word"] for w in answer["words"]]


def test_the_api_samples_what_predict_prints_for_the_same_seed_and_marks_the_training_words(server, ckpt, capsys):
    options = {"seed": 7, "temperature": 0.8, "top_k": 6, "prefix": "a"}
    status, answer = call(server, "/sample", {"num_samples": 12, **options})
    assert status == 200, answer
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ckpt.parent)
        flags = [arg for key, value in options.items() for arg in (f"--sampling.{key}", str(value))]
        cli_main(["predict", "--ckpt_path", str(ckpt), "--sampling.num_samples", "12", *flags])
    words = [w["word"] for w in answer["words"]]
    # A labelled model's predict prints each word's label beside it, drawn from the training prior.
    assert [f"{w['word']}\t{w['label']}" for w in answer["words"]] == printed_words(capsys)
    assert all(word.startswith("a") for word in words)
    train_words = training_words(ckpt)
    assert [w["mark"] for w in answer["words"]] == ["train" if w in train_words else "new" for w in words]
    assert all(w["log_prob"] < 0 for w in answer["words"])
    # The model's own seed when none is given, as for predict.
    assert sample(server, num_samples=12, **{**options, "seed": None}) != words
    assert sample(server, num_samples=12, **options) == words


def test_scores_are_the_models_probabilities_character_by_character(server, ckpt):
    names = ["emma", "ava", "zoey", "lily"]
    status, answer = call(server, "/score", {"words": names, "per_char": True})
    assert status == 200, answer
    model = load_model(ckpt)
    prior = model.label_prior / model.label_prior.sum()
    for name, score in zip(names, answer["scores"]):
        # Independently of scoring: each label's next-character distribution after each prefix, one at a
        # time, multiplied out, and Bayes' rule over the labels by hand.
        ids = [0, *model.vocabulary.encode(name)]
        with torch.no_grad():
            likelihood = [
                math.prod(
                    torch.softmax(model.next_logits(torch.tensor([ids[: t + 1]]), torch.tensor([label]))[0], -1)[nxt]
                    for t, nxt in enumerate([*ids[1:], 0])
                ).item()
                for label in range(model.num_labels)
            ]
        joint = [float(p) * q for p, q in zip(prior, likelihood)]
        assert score["word"] == name and score["in_train"] == (name in training_words(ckpt))
        assert score["nll"] == pytest.approx(-math.log(sum(joint)), abs=1e-4)
        # The posterior served is calibrated: the log joint over the label temperature fitted on val.
        calibrated = [p ** (1 / model.label_temperature.item()) for p in joint]
        assert score["posterior"] == pytest.approx(
            {"a": calibrated[0] / sum(calibrated), "other": calibrated[1] / sum(calibrated)}, abs=1e-6
        )
        assert score["label"] == max(score["posterior"], key=score["posterior"].get)
        assert sum(score["surprisal"]) == pytest.approx(score["nll"], abs=1e-4)
        assert len(score["surprisal"]) == len(name) + 1
        assert score["nats_per_char"] == pytest.approx(score["nll"] / (len(name) + 1), abs=1e-4)
        assert score["perplexity"] == pytest.approx(math.exp(score["nats_per_char"]), rel=1e-5)
    status, answer = call(server, "/score", {"words": ["emma"]})
    assert answer["scores"][0]["surprisal"] is None


def test_info_and_health_describe_the_checkpoint(server, ckpt):
    status, info = call(server, "/info")
    assert status == 200
    model, saved = load_model(ckpt), torch.load(ckpt, weights_only=True)
    described = info["model"]
    assert described["class"] == "NeuralNGram"
    assert described["parameters"] == sum(p.numel() for p in model.parameters()) > 0
    assert [described["boundary"], *described["vocabulary"]] == saved["vocab"]
    assert described["labels"] == ["a", "other"] == model.labels
    assert described["training"]["global_step"] == saved["global_step"] > 0
    assert described["training"]["epochs"] == saved["epoch"] + 1  # Lightning counts epochs from 0
    (best,) = [s["best_model_score"] for s in saved["callbacks"].values() if "best_model_score" in s and s["monitor"]]
    assert described["training"]["best_val_nll"] == pytest.approx(float(best), abs=1e-4)
    assert str(ckpt.parent) not in json.dumps(info)  # the checkpoint's name only, never where it lies
    options = {f.name: f.default for f in fields(SamplingOptions)}
    assert described["defaults"] == options and list(described["options"]) == list(options)
    assert healthy(server)


def oversized(url: str, chunked: bool, path: str = "/score") -> tuple[int, str]:
    """A body over the limit, announced by its Content-Length or streamed in chunks without one."""
    piece = b'{"words": ["' + b"a" * 4000
    connection = http.client.HTTPConnection(urlsplit(url).netloc, timeout=30)
    headers = {"Content-Type": "application/json"}
    if chunked:
        body = iter([piece] * (MAX_BODY_BYTES // len(piece) + 2))
        connection.request("POST", path, body, headers, encode_chunked=True)
    else:
        connection.request("POST", path, piece * (MAX_BODY_BYTES // len(piece) + 2), headers)
    response = connection.getresponse()
    return response.status, response.read().decode()


TOO_LARGE = f'{{"detail": "the body is over {MAX_BODY_BYTES:,} bytes"}}'


# Each bad body, and what the one line that answers it must name.
BAD_SAMPLES = [
    (b'{"num_samples": 5', "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    ({"num_samples": "5"}, "num_samples"),
    ({"num_samples": 0}, "num_samples"),
    ({"num_samples": MAX_SAMPLES + 1}, "num_samples"),
    ({"temperature": 0}, "temperature"),
    ({"temperature": -1.5}, "temperature"),
    ({"top_k": 2.5}, "top_k"),
    ({"prefix": "aQ"}, "prefix"),
    ({"prefix": 3}, "prefix"),
    ({"label": "fr"}, "label"),
    ({"only_new": "yes"}, "only_new"),
    ({"path": "/etc/passwd"}, "path"),
]
BAD_SCORES = [({"words": ["emXma"]}, "words"), ({"words": []}, "words"), ({"words": "emma"}, "words")]


def test_bad_requests_get_one_line_naming_the_field_while_good_ones_beside_them_get_their_words(server):
    seeds = range(12)
    alone = {seed: sample(server, num_samples=5, seed=seed) for seed in seeds}
    assert len({tuple(words) for words in alone.values()}) > 1

    health, stop = [], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            health.append(healthy(server))
            stop.wait(0.05)

    def good(seed: int) -> bool:
        return sample(server, num_samples=5, seed=seed) == alone[seed]

    def bad(case) -> tuple[int, object]:
        (body, named), path = case
        return call(server, path, body), named

    watcher = threading.Thread(target=watch)
    watcher.start()
    cases = [(case, "/sample") for case in BAD_SAMPLES] + [(case, "/score") for case in BAD_SCORES]
    try:
        # Fired together, so that bad requests land in the same batches as good ones.
        with ThreadPoolExecutor(16) as pool:
            goods = [pool.submit(good, seed) for seed in seeds]
            bads = [pool.submit(bad, case) for case in cases]
            sizes = [pool.submit(oversized, server, chunked) for chunked in (False, True)]
            assert all(future.result() for future in goods)
            for future in bads:
                (status, answer), named = future.result()
                assert status == 422, answer
                assert named in answer["detail"] and "\n" not in answer["detail"], answer
            assert [future.result() for future in sizes] == [(413, TOO_LARGE)] * 2
    finally:
        stop.set()
        watcher.join()
    assert health and all(health)
    assert sample(server, num_samples=5, seed=3) == alone[3]  # and it is still up


def answer(url: str, method: str = "GET") -> tuple[int, str, object]:
    """The status, content type and parsed JSON of a request without a body."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as response:
            status, kind, text = response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as e:
        status, kind, text = e.code, e.headers["Content-Type"], e.read()
    return status, kind, json.loads(text)


def test_every_error_is_one_json_line_and_no_page_loads_a_cdns_scripts(server):
    # FastAPI's /docs and /redoc fetch Swagger and ReDoc from a CDN: they are off.
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect", "/nothing"):
        assert answer(server + path) == (404, "application/json", {"detail": "Not Found"})
    assert answer(server + "/sample") == (405, "application/json", {"detail": "Method Not Allowed"})
    assert answer(server + "/openapi.json")[0] == 200  # the API's description, with nothing to fetch


def test_an_uncaught_exception_is_a_json_500(tmp_path):
    # The served model raises nothing uncaught that a request can reach: a FastAPI app of one route
    # that raises, with the server's error handling, on a real uvicorn on 127.0.0.1.
    app = FastAPI()
    app.add_middleware(JsonErrors)
    answer_errors_as_json(app)

    @app.get("/fails")
    def fails() -> None:
        raise RuntimeError("a bug")

    port = free_port()
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=uvicorn_server.run)
    thread.start()
    try:
        while not uvicorn_server.started:
            threading.Event().wait(0.05)
        detail = "internal server error (RuntimeError); the server's log has more"
        assert answer(f"http://127.0.0.1:{port}/fails") == (500, "application/json", {"detail": detail})
    finally:
        uvicorn_server.should_exit = True
        thread.join()


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, driven by its chromedriver (as root it needs --no-sandbox)."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail("the page's test needs Debian's browser: apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(driver))
    yield browser
    browser.quit()


def greenness(colour: str) -> int:
    """How green a CSS ``rgb(...)``/``rgba(...)`` colour is against red: the page's scale runs red to green."""
    red, green, *_ = (int(float(part)) for part in colour[colour.index("(") + 1 : -1].split(","))
    return green - red


def test_the_page_samples_marked_names_and_colours_each_character_of_a_scored_name(server, browser):
    wait = WebDriverWait(browser, 30)
    browser.get(f"{server}/ui/")
    wait.until(lambda b: "NeuralNGram" in b.find_element(By.ID, "model").text)
    for field, value in (("num_samples", "6"), ("seed", "5"), ("prefix", "e")):
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "sample-button").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#words li")) == 6)
    _, expected = call(server, "/sample", {"num_samples": 6, "seed": 5, "prefix": "e", "temperature": 1.0})
    items = browser.find_elements(By.CSS_SELECTOR, "#words li")
    assert [item.get_attribute("data-word") for item in items] == [w["word"] for w in expected["words"]]
    assert [item.find_element(By.CSS_SELECTOR, ".mark").text for item in items] == [
        w["mark"] for w in expected["words"]
    ]
    assert {w["mark"] for w in expected["words"]} <= {"new", "train"}

    name = browser.find_element(By.ID, "score-input")
    name.send_keys("emma")
    browser.find_element(By.ID, "score-button").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#chars .char")) == 5)
    _, scored = call(server, "/score", {"words": ["emma"], "per_char": True})
    tiles = browser.find_elements(By.CSS_SELECTOR, "#chars .char")
    probabilities = [float(tile.get_attribute("data-p")) for tile in tiles]
    assert probabilities == pytest.approx([math.exp(-s) for s in scored["scores"][0]["surprisal"]], abs=1e-5)
    assert [tile.find_element(By.TAG_NAME, "b").text for tile in tiles] == ["e", "m", "m", "a", "end"]
    # The likelier a character, the greener its tile; these five lie far enough apart to tell.
    colours = [greenness(tile.value_of_css_property("background-color")) for tile in tiles]
    by_probability = [colour for _, colour in sorted(zip(probabilities, colours))]
    assert by_probability == sorted(by_probability) and by_probability[0] < by_probability[-1]
    assert max(probabilities) > 2 * min(probabilities)
    # The label the model finds most likely, and every label's share.
    posterior = scored["scores"][0]["posterior"]
    best = max(posterior, key=posterior.get)
    assert browser.find_element(By.ID, "label-best").text == f"{best} ({round(100 * posterior[best])}%)"
    bars = browser.find_elements(By.CSS_SELECTOR, "#label-bars li")
    assert [bar.get_attribute("data-label") for bar in bars] == sorted(posterior, key=posterior.get, reverse=True)

    # A character the model has never seen: the server's one line, on the page.
    name.clear()
    name.send_keys("emXma")
    browser.find_element(By.ID, "score-button").click()
    wait.until(lambda b: b.find_element(By.ID, "score-error").is_displayed())
    assert "'X' at position 3" in browser.find_element(By.ID, "score-error").text


@pytest.mark.parametrize("name", ["counts", *SERIES])  # the bigram: the served one above
def test_every_model_is_served_from_its_checkpoint_alone(tmp_path, name):
    ckpt = train(tmp_path, name, "--trainer.max_epochs", "1", "--trainer.max_steps", "2")
    (tmp_path / "tiny.txt").unlink()  # the checkpoint alone: it keeps its training words
    sampler, scorer = SampleAPI(str(ckpt)), ScoreAPI(str(ckpt))
    sampler.setup("cpu")
    scorer.setup("cpu")
    requests = [SampleRequest(num_samples=3, seed=seed, temperature=0.9) for seed in (1, 2, 1)]
    requests.append(SampleRequest(prefix="Q"))
    answers = [sampler.encode_response(r) for r in sampler.predict([sampler.decode_request(r) for r in requests])]
    words = [[w["word"] for w in answer["words"]] for answer in answers[:3]]
    assert words[0] == words[2] and all(len(w) == 3 for w in words)
    train_words = training_words(ckpt)
    marks = {(w["word"], w["mark"]) for answer in answers[:3] for w in answer["words"]}
    assert train_words and marks == {(word, "train" if word in train_words else "new") for word, _ in marks}
    assert answers[3].status_code == 422 and b"prefix" in answers[3].body
    scored = scorer.encode_response(scorer.predict(ScoreRequest(words=["emma", "ava"], per_char=True)))
    assert [s["word"] for s in scored["scores"]] == ["emma", "ava"]
    assert all(math.isfinite(s["nll"]) and len(s["surprisal"]) == len(s["word"]) + 1 for s in scored["scores"])


def test_a_checkpoint_moved_away_from_its_run_still_knows_its_training_words(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    ckpt = train(run, "bigram", "--data.path", "tiny.txt", "--trainer.max_epochs", "3")  # a relative path
    expected = set(WordsDataModule(str(run / "tiny.txt"), url=None).split_words()["train"])
    moved = tmp_path / "elsewhere" / "bigram.ckpt"
    moved.parent.mkdir()
    shutil.copyfile(ckpt, moved)
    shutil.rmtree(run)  # the checkpoint alone, started from another folder
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(moved.parent)
        assert training_words(moved) == expected
        sampler = SampleAPI(str(moved))
        sampler.setup("cpu")
        asked = sampler.decode_request(SampleRequest(num_samples=8, seed=1, only_new=True))
        (answer,) = [sampler.encode_response(r) for r in sampler.predict([asked])]
        assert [w["mark"] for w in answer["words"]] == ["new"] * 8
        assert not {w["word"] for w in answer["words"]} & expected
        capsys.readouterr()
        cli_main(["predict", "--ckpt_path", str(moved), "--sampling.num_samples", "30", "--sampling.seed", "1"])
    printed = capsys.readouterr()
    trained = sum(word in expected for word in printed.out.split())
    assert f"{30 - trained} new and {trained} from the training words" in printed.err
    # A checkpoint written before checkpoints kept their words: alone, its words are neither new nor train.
    saved = torch.load(moved, weights_only=True)
    del saved["WordsDataModule"]
    torch.save(saved, moved)
    assert training_words(moved) is None
    sampler = SampleAPI(str(moved))
    sampler.setup("cpu")
    (answer,) = [sampler.encode_response(r) for r in sampler.predict([sampler.decode_request(SampleRequest())])]
    assert {w["mark"] for w in answer["words"]} == {"unknown"}


def serve_error(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli_main(["serve", *args])
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("makemore-pl serve: error: ")
    return line


def test_serve_refuses_bad_options_in_one_line(tmp_path, capsys, ckpt):
    assert "--ckpt_path" in serve_error(capsys, "--ckpt_path", str(tmp_path / "missing.ckpt"))
    assert "--port 80:" in serve_error(capsys, "--ckpt_path", str(ckpt), "--port", "80")
    assert "--host 10.1.2.3:" in serve_error(capsys, "--ckpt_path", str(ckpt), "--host", "10.1.2.3")


@pytest.fixture(scope="module")
def text_server(text_checkpoint) -> str:
    with serving(text_checkpoint[0]) as url:
        yield url


# What the text page and API tests continue: 30 characters after "ROMEO:", seed 3, among the top 4.
CONTINUE = {"prompt": "ROMEO:", "length": 30, "seed": 3, "top_k": 4}


def test_a_text_server_streams_a_continuation_and_refuses_bad_requests_in_one_line(text_server, text_checkpoint):
    ckpt, _ = text_checkpoint
    address = urlsplit(text_server)
    refused = [
        ({"prompt": "ROMÉO"}, "prompt: character 'É' at position 4 is not in the model's vocabulary"),
        ({"suffix": "a", "beam": 2}, "suffix 'a': a model of running text writes no words; this option is for "
                                     "word models only; beam 2: a model"),
        ({"prompt_file": "/etc/passwd"}, "prompt_file: Extra inputs are not permitted"),
        ({"length": -1}, "length: Input should be greater than or equal to 0"),
    ]  # fmt: skip
    for bad, line in refused:
        status, answer = _post(address, bad)
        assert status == 422 and json.loads(answer)["detail"].startswith(line), answer
    status, streamed = _post(address, CONTINUE)  # the server is still up after them
    assert status == 200 and streamed.startswith("ROMEO:") and len(streamed) == len("ROMEO:") + 30
    # Every token of running text is a character: "\n" too, which a words model's boundary would be.
    status, info = call(text_server, "/info")
    assert info["model"]["vocabulary"] == torch.load(ckpt, weights_only=True)["vocab"]
    assert info["model"]["boundary"] is None and "\n" in info["model"]["vocabulary"]
    assert streamed == "ROMEO:" + "".join(continue_text(load_model(ckpt), "ROMEO:", 30, top_k=4, seed=3))


def _post(address, body: dict) -> tuple[int, str]:
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    connection.request("POST", "/generate", json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, text


def test_the_page_of_a_text_model_continues_a_prompt_as_it_streams(text_server, browser):
    wait = WebDriverWait(browser, 30)
    browser.get(f"{text_server}/ui/")
    wait.until(lambda b: "Transformer" in b.find_element(By.ID, "model").text)
    assert not browser.find_element(By.ID, "prefix").is_displayed()  # no word options for running text
    for field, value in CONTINUE.items():
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(str(value))
    browser.find_element(By.ID, "sample-button").click()
    _, streamed = _post(urlsplit(text_server), CONTINUE)
    # Selenium's text drops a leading or trailing space or newline; every other character is the stream's.
    wait.until(lambda b: b.find_element(By.ID, "continuation").text == streamed.strip())
    assert streamed.startswith("ROMEO:") and len(streamed) == len("ROMEO:") + 30


# A text pasted to be coloured by surprisal: longer than the tiny model's block of 16, so that it reads
# several windows, and with a newline.
PASTED = "JULIET: Ay me!\nROMEO 7: but soft, what light through yonder window breaks?"


def score_per_char(ckpt: Path, text: str, folder: Path, capsys) -> tuple[str, list[float]]:
    """``makemore-pl score --per_char`` of ``text`` in a file: its summary line and its surprisals in bits."""
    path = folder / "pasted.txt"
    path.write_text(text, encoding="utf-8")
    cli_main(["score", "--ckpt_path", str(ckpt), str(path), "--per_char"])
    summary, _, *rows = capsys.readouterr().out.splitlines()
    return summary, [float(row.split("\t")[2]) for row in rows]


def test_a_text_server_gives_each_characters_surprisal_as_score_does_and_refuses_bad_text(
    text_server, text_checkpoint, tmp_path, capsys
):
    ckpt, _ = text_checkpoint
    summary, bits = score_per_char(ckpt, PASTED, tmp_path, capsys)
    status, answer = call(text_server, "/surprisal", {"text": PASTED})
    assert status == 200, answer
    assert answer["characters"] == len(PASTED) - 1 == len(answer["surprisals"])
    assert answer["surprisals"] == pytest.approx(bits, abs=1e-4)
    assert f"total NLL {answer['total_nll']:.4f} nats" in summary
    assert f"{answer['bits_per_char']:.4f} bits/char" in summary
    assert answer["total_bits"] == pytest.approx(sum(answer["surprisals"]), rel=1e-9)
    # The other reading is score's too (the function that score --reading sliding calls), and differs past
    # the block of 16; a short text, as sliding calls the model once a character.
    status, sliding = call(text_server, "/surprisal", {"text": PASTED[:24], "reading": "sliding"})
    expected = score_text(load_model(ckpt), PASTED[:24], "sliding", surprisals=True).surprisals
    assert status == 200 and sliding["surprisals"] == pytest.approx(expected, abs=1e-6)
    assert sliding["surprisals"][:16] == pytest.approx(bits[:16], abs=1e-4)
    assert sliding["surprisals"][16:] != pytest.approx(bits[16:23], abs=1e-4)
    refused = [
        ({"text": "ROMÉO"}, "text: character 'É' at position 4 is not in the model's vocabulary"),
        ({"text": "R"}, "text: 1 characters; scoring needs at least 2 (the first is never predicted)"),
        ({"text": "a" * (MAX_SCORED_TEXT + 1)}, f"text: String should have at most {MAX_SCORED_TEXT} characters"),
        ({"text": 5}, "text: Input should be a valid string"),
        ({"text": "ROMEO", "reading": "random"}, "reading: Input should be 'windows' or 'sliding'"),
        ({"words": ["ROMEO"]}, "text: Field required; words: Extra inputs are not permitted"),
    ]
    for bad, line in refused:
        status, answer = call(text_server, "/surprisal", bad)
        assert status == 422 and answer["detail"].startswith(line) and "\n" not in answer["detail"], answer
    assert [oversized(text_server, chunked, "/surprisal") for chunked in (False, True)] == [(413, TOO_LARGE)] * 2
    status, answer = call(text_server, "/surprisal", {"text": PASTED})  # the server is still up after them
    assert status == 200 and len(answer["surprisals"]) == len(PASTED) - 1


def test_the_page_of_a_text_model_colours_a_pasted_text_by_surprisal(text_server, browser):
    wait = WebDriverWait(browser, 30)
    browser.get(f"{text_server}/ui/")
    wait.until(lambda b: "Transformer" in b.find_element(By.ID, "model").text)
    assert not browser.find_element(By.ID, "score-input").is_displayed()  # names are not scored here
    browser.find_element(By.ID, "surprisal-input").send_keys(PASTED)
    browser.find_element(By.ID, "surprisal-button").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#surprisal-text span")) == len(PASTED))
    _, answer = call(text_server, "/surprisal", {"text": PASTED})
    first, *tiles = browser.find_elements(By.CSS_SELECTOR, "#surprisal-text span")
    assert "".join(tile.get_attribute("data-char") for tile in [first, *tiles]) == PASTED
    assert "first" in first.get_attribute("class") and first.get_attribute("data-bits") is None
    bits = [float(tile.get_attribute("data-bits")) for tile in tiles]
    assert bits == pytest.approx(answer["surprisals"], rel=1e-12)
    for tile, value in zip(tiles, bits):
        assert f": {value:.4f} bits ({value * math.log(2):.4f} nats, p = " in tile.get_attribute("title")
    # The most surprising character is the reddest, the least the greenest.
    colours = [greenness(tile.value_of_css_property("background-color")) for tile in tiles]
    assert colours[bits.index(max(bits))] == min(colours) < max(colours) == colours[bits.index(min(bits))]
    figures = browser.find_element(By.ID, "surprisal-figures").text
    assert f"{answer['total_bits']:.2f} bits" in figures and f"{answer['bits_per_char']:.4f} bits" in figures
    # In nats: the same figures, the legend's unit with them.
    Select(browser.find_element(By.ID, "surprisal-unit")).select_by_value("nats")
    figures = browser.find_element(By.ID, "surprisal-figures").text
    assert f"{answer['total_nll']:.2f} nats" in figures and f"{answer['nats_per_char']:.4f} nats" in figures
    second = browser.find_elements(By.CSS_SELECTOR, "#surprisal-text span")[1]  # the tiles are drawn anew
    assert f"{bits[0] * math.log(2):.4f} nats ({bits[0]:.4f} bits" in second.get_attribute("title")
    assert browser.find_element(By.ID, "surprisal-top").text == f"≥ {-math.log(0.01):.2f} nats"
    # A character outside the vocabulary: the server's one line, and no colours.
    browser.find_element(By.ID, "surprisal-input").clear()
    browser.find_element(By.ID, "surprisal-input").send_keys("ROMÉO")
    browser.find_element(By.ID, "surprisal-button").click()
    wait.until(lambda b: b.find_element(By.ID, "surprisal-error").is_displayed())
    assert "text: character 'É' at position 4" in browser.find_element(By.ID, "surprisal-error").text
    assert not browser.find_element(By.ID, "surprisal-result").is_displayed()
