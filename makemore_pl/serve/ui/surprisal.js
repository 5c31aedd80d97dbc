// The page's text coloured by surprisal (POST /surprisal): app.js's helpers, for a model of running text.
"use strict";

// The surprisals come in bits; the page shows them in the unit picked. colour(p) is red from p = 1%.
const UNITS = { bits: 1, nats: Math.LN2 };
const REDDEST = -Math.log2(0.01);  // bits
let scored = null;  // the last text and its answer, redrawn when the unit changes

function surprisalTile(char, bits) {
  const unit = $("surprisal-unit").value;
  // A newline shows as ↵ on its colour, and then breaks the line as it does in the text.
  const node = el("span", char === "\n" ? "newline" : "", char === "\n" ? "↵" : char);
  node.dataset.char = char;
  if (bits === null) {
    node.classList.add("first");
    node.title = `${JSON.stringify(char)}: the first character, which nothing before it predicts`;
    return node;
  }
  node.dataset.bits = String(bits);
  node.style.background = colour(2 ** -bits);
  const other = unit === "bits" ? "nats" : "bits";
  node.title = `${JSON.stringify(char)}: ${(bits * UNITS[unit]).toFixed(4)} ${unit} ` +
    `(${(bits * UNITS[other]).toFixed(4)} ${other}, p = ${(2 ** -bits).toPrecision(3)})`;
  return node;
}

function renderSurprisal() {
  const { text, result } = scored;
  const unit = $("surprisal-unit").value;
  const output = $("surprisal-text");
  output.replaceChildren();
  [...text].forEach((char, i) => {
    output.append(surprisalTile(char, i === 0 ? null : result.surprisals[i - 1]));
    if (char === "\n") output.append("\n");
  });
  for (const node of document.querySelectorAll("#surprisal-result .unit")) node.textContent = unit;
  $("surprisal-top").textContent = `≥ ${(REDDEST * UNITS[unit]).toFixed(2)} ${unit}`;
  const figures = $("surprisal-figures");
  figures.replaceChildren();
  const rows = [
    ["characters predicted", result.characters.toLocaleString()],
    ["total", `${(result.total_bits * UNITS[unit]).toFixed(2)} ${unit}`],
    ["per character", `${(result.bits_per_char * UNITS[unit]).toFixed(4)} ${unit}`],
    ["perplexity", Math.exp(result.nats_per_char).toFixed(2)],
  ];
  for (const [name, value] of rows) figures.append(el("dt", "", name), el("dd", "", value));
  $("surprisal-result").hidden = false;
}

async function colourText(event) {
  event.preventDefault();
  const text = $("surprisal-input").value;
  const button = $("surprisal-button");
  button.disabled = true;
  try {
    scored = { text, result: await call("/surprisal", { text, reading: $("reading").value }) };
    renderSurprisal();
    show($("surprisal-error"), "");
  } catch (error) {
    $("surprisal-result").hidden = true;
    show($("surprisal-error"), error.message);
  } finally {
    button.disabled = false;
  }
}

$("surprisal-form").addEventListener("submit", colourText);
$("surprisal-unit").addEventListener("change", () => { if (scored) renderSurprisal(); });
