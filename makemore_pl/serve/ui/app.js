// makemore-pl's page: plain JavaScript against the server's own API, nothing fetched from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);

async function call(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  // The server answers a bad request with one line naming the field, in "detail".
  if (!response.ok) throw new Error(data.detail || `${response.status} ${response.statusText}`);
  return data;
}

function show(element, text) {
  element.textContent = text || "";
  element.hidden = !text;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- the model, from GET /info ----

async function loadInfo() {
  const { model } = await call("/info");
  // A count model has no parameters: its table (buffers) is the model.
  const size = model.parameters ? `${model.parameters.toLocaleString()} parameters` : `${model.buffers.toLocaleString()} counts`;
  const figures = [size];
  if (model.training.best_val_nll !== undefined) figures.push(`val/nll ${model.training.best_val_nll.toFixed(4)}`);
  if (model.training.global_step) figures.push(`${model.training.global_step.toLocaleString()} steps`);
  figures.push(`${model.vocabulary.length} characters`);
  if (model.labels) figures.push(`${model.labels.length} labels`);
  const header = $("model");
  header.replaceChildren(el("b", "", model.class), ` · ${figures.join(" · ")}`);
  $("temperature").value = model.defaults.temperature;
  $("temperature-value").textContent = Number(model.defaults.temperature).toFixed(2);
  $("max_length").placeholder = Math.min(model.defaults.max_length, model.longest_word);
  $("seed").placeholder = model.defaults.seed;
  $("max_draws").placeholder = model.defaults.max_draws;
  // Each field's hint is the sampling option's own help, as --help gives it.
  // (prompt_file has no field: the command line's alone.)
  for (const [name, help] of Object.entries(model.options)) if ($(name)) $(name).title = help;
  if (model.text) {
    // A model of running text continues a prompt: the word options and the scoring of names go.
    document.body.classList.add("text-model");
    $("text-fields").hidden = false;
    $("sample-title").textContent = "Continue a text";
    $("sample-button").textContent = "Continue";
    $("length").placeholder = model.defaults.length;
  }
  if (model.labels) {
    for (const label of model.labels) $("label").append(new Option(label, label));
    $("label-field").hidden = false;
  }
}

// ---- sampling: POST /sample ----

const TEXT_OPTIONS = ["prefix", "suffix", "contains", "exclude", "prompt"];
const NUMBER_OPTIONS = ["num_samples", "seed", "top_k", "min_length", "max_length", "beam", "max_draws", "length"];

function sampleRequest() {
  const request = { temperature: Number($("temperature").value) };
  for (const name of NUMBER_OPTIONS) if ($(name).value !== "") request[name] = Number($(name).value);
  for (const name of TEXT_OPTIONS) if ($(name).value !== "") request[name] = $(name).value;
  for (const name of ["only_new", "unique"]) if ($(name).checked) request[name] = true;
  if (!$("exact").checked) request.exact = false;
  if ($("label").value) request.label = $("label").value;
  return request;
}

function renderWords(result) {
  const list = $("words");
  list.replaceChildren();
  for (const sampled of result.words) {
    const item = el("li");
    item.dataset.word = sampled.word;
    item.title = `log probability ${sampled.log_prob.toFixed(2)}: click to score it`;
    // A barely trained model may end a word at once: show that, not an empty chip.
    item.append(sampled.word ? el("span", "word", sampled.word) : el("span", "word empty", "(empty)"));
    if (sampled.label) item.append(el("span", "label", sampled.label));
    item.append(el("span", `mark ${sampled.mark}`, sampled.mark));
    item.addEventListener("click", () => { $("score-input").value = sampled.word; score(sampled.word); });
    list.append(item);
  }
  const marks = result.words.map((w) => w.mark);
  let summary = `${marks.length} names`;
  if (!marks.includes("unknown")) {
    summary += ` · ${marks.filter((m) => m === "new").length} new · ${marks.filter((m) => m === "train").length} from the training words`;
  }
  if (result.missing) summary += ` · ${result.missing} not found${result.advice ? ` (${result.advice})` : ""}`;
  $("sample-summary").textContent = summary;
}

// ---- continuing a text: POST /generate, its characters shown as they stream in ----

async function generate() {
  const request = sampleRequest();
  const response = await fetch("/generate", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(data.detail || `${response.status} ${response.statusText}`);
  }
  const output = $("continuation");
  output.hidden = false;
  output.textContent = "";
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    output.textContent += value;
  }
}

async function sample(event) {
  event.preventDefault();
  const button = $("sample-button");
  button.disabled = true;
  try {
    if (document.body.classList.contains("text-model")) {
      await generate();
      show($("sample-error"), "");
      return;
    }
    renderWords(await call("/sample", sampleRequest()));
    show($("sample-error"), "");
  } catch (error) {
    show($("sample-error"), error.message);
  } finally {
    button.disabled = false;
  }
}

// ---- scoring: POST /score ----

// Red for an unlikely character (p <= 1%), green for a likely one, on a log scale of p.
function colour(p) {
  const t = Math.min(Math.max(Math.log10(Math.max(p, 1e-12)) / 2 + 1, 0), 1);
  return `hsl(${Math.round(140 * t)} ${Math.round(75 - 20 * t)}% ${Math.round(82 - 2 * t)}%)`;
}

function tile(char, surprisal, isEnd) {
  const p = Math.exp(-surprisal);
  const node = el("span", isEnd ? "char end" : "char");
  node.dataset.p = p.toFixed(6);
  node.style.background = colour(p);
  node.title = `${isEnd ? "the end" : `"${char}"`}: p = ${p.toPrecision(3)}, ${surprisal.toFixed(2)} nats`;
  node.append(el("b", "", isEnd ? "end" : char), el("small", "", p >= 0.995 ? "1.00" : p.toFixed(2)));
  return node;
}

function renderScore(result) {
  const chars = $("chars");
  chars.replaceChildren();
  [...result.word].forEach((char, i) => chars.append(tile(char, result.surprisal[i], false)));
  chars.append(tile("", result.surprisal[result.surprisal.length - 1], true));

  const figures = $("figures");
  figures.replaceChildren();
  const rows = [
    ["NLL", `${result.nll.toFixed(3)} nats`],
    ["per character", result.nats_per_char.toFixed(3)],
    ["perplexity", result.perplexity.toFixed(2)],
    ["training word", result.in_train === null ? "unknown" : result.in_train ? "yes" : "no"],
  ];
  for (const [name, value] of rows) figures.append(el("dt", "", name), el("dd", "", value));

  const posterior = result.posterior;
  $("posterior").hidden = !posterior;
  if (posterior) {
    const ranked = Object.entries(posterior).sort((a, b) => b[1] - a[1]);
    $("label-best").textContent = `${ranked[0][0]} (${Math.round(100 * ranked[0][1])}%)`;
    const bars = $("label-bars");
    bars.replaceChildren();
    for (const [label, share] of ranked) {
      const bar = el("span", "bar");
      const fill = el("i");
      fill.style.width = `${(100 * share).toFixed(1)}%`;
      bar.append(fill);
      const row = el("li");
      row.dataset.label = label;
      row.append(el("span", "", label), bar, el("span", "share", `${(100 * share).toFixed(1)}%`));
      bars.append(row);
    }
  }
  $("score-result").hidden = false;
}

async function score(name) {
  try {
    const { scores } = await call("/score", { words: [name], per_char: true });
    renderScore(scores[0]);
    show($("score-error"), "");
  } catch (error) {
    $("score-result").hidden = true;
    show($("score-error"), error.message);
  }
}

$("sample-form").addEventListener("submit", sample);
$("score-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("score-input").value.trim();
  if (name) score(name);
});
$("temperature").addEventListener("input", () => {
  $("temperature-value").textContent = Number($("temperature").value).toFixed(2);
});
$("new-seed").addEventListener("click", () => { $("seed").value = Math.floor(Math.random() * 2 ** 31); });
loadInfo().catch((error) => show($("sample-error"), `could not read /info: ${error.message}`));
