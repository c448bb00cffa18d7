"""The try-it page (``GET /`` and ``GET /ui``, off with ``--no-ui``): one self-contained HTML document (inline
CSS and JS, nothing fetched from the network) that uses only the server's own API: ``GET info`` and
``GET v1/models`` to start, ``POST models/NAME/embed`` for the similarity heatmap (cosines computed in the
page from the normalised vectors), ``POST models/NAME/search`` for the corpus search. Paths are relative,
so the page also works behind a proxy that mounts the server under a prefix. With ``--api-key`` the page
asks for the key and sends it as ``Authorization: Bearer``; it keeps it in memory only (a reload asks again).
Every failure (refused key, slow or failed request, server gone) is shown as text beside what failed.
"""

from __future__ import annotations

from mlctl_zoo.utils.pages import csp_hash

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mlctl-zoo embeddings</title>
<style>
  :root { --fg: #1d2330; --muted: #5b6475; --line: #d9dee7; --bg: #f6f7fa; --card: #fff;
          --accent: #2f5bd3; --err-bg: #fdecec; --err-fg: #9b1c1c; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
         color: var(--fg); background: var(--bg); }
  header { display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: center; padding: 14px 24px;
           background: var(--card); border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; font-weight: 650; }
  header label { color: var(--muted); }
  select, input, textarea, button { font: inherit; color: inherit; }
  select, input[type=text], input[type=password], input[type=number], textarea {
    border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; background: #fff; }
  textarea { width: 100%; min-height: 130px; resize: vertical; }
  button { border: 0; border-radius: 6px; padding: 7px 16px; background: var(--accent); color: #fff;
           cursor: pointer; font-weight: 600; }
  button:disabled { opacity: .55; cursor: progress; }
  main { max-width: 1100px; margin: 0 auto; padding: 20px 24px 40px; display: grid; gap: 20px; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 20px; }
  section h2 { font-size: 16px; margin: 0 0 4px; }
  .hint { color: var(--muted); margin: 0 0 10px; font-size: 14px; }
  .row { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin-top: 10px; }
  .row input[type=text] { flex: 1 1 320px; }
  #status { color: var(--muted); font-size: 14px; margin-left: auto; }
  .error { display: none; margin-top: 10px; padding: 8px 12px; border-radius: 6px; background: var(--err-bg);
           color: var(--err-fg); white-space: pre-wrap; overflow-wrap: anywhere; }
  .error.shown { display: block; }
  .hidden { display: none !important; }
  .wrap { overflow-x: auto; margin-top: 14px; }
  table.heat { border-collapse: separate; border-spacing: 3px; }
  table.heat th { font-weight: 500; color: var(--muted); font-size: 13px; text-align: left; }
  table.heat th.col { text-align: center; min-width: 52px; }
  table.heat th.rowh { max-width: 330px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
                       padding-right: 8px; }
  table.heat td.cell { width: 56px; height: 40px; text-align: center; border-radius: 5px;
                       font-variant-numeric: tabular-nums; font-size: 13px; }
  .caption { color: var(--muted); font-size: 13px; margin-top: 8px; }
  ol#results { margin: 12px 0 0; padding-left: 0; list-style: none; display: grid; gap: 6px; }
  ol#results li { display: grid; grid-template-columns: 64px 120px 1fr; gap: 10px; align-items: center; }
  .score { font-variant-numeric: tabular-nums; text-align: right; font-weight: 600; }
  .bar { height: 10px; background: #e7ebf3; border-radius: 5px; overflow: hidden; }
  .bar span { display: block; height: 100%; background: var(--accent); }
  #key-panel { border-color: #e3b341; background: #fffaf0; }
  #top-k { width: 70px; }
</style>
</head>
<body>
<header>
  <h1>mlctl-zoo embeddings</h1>
  <label id="model-picker" class="hidden">model <select id="models" aria-label="model"></select></label>
  <span id="status">connecting…</span>
</header>
<main>
  <section id="key-panel" class="hidden">
    <h2>API key</h2>
    <p class="hint">This server was started with <code>--api-key</code>. The key is sent as
      <code>Authorization: Bearer</code> and kept in this page only.</p>
    <form id="key-form" class="row">
      <input type="password" id="key" placeholder="API key" autocomplete="off" aria-label="API key">
      <button type="submit" id="key-btn">Use key</button>
    </form>
    <div id="key-error" class="error" role="alert"></div>
  </section>

  <div id="page-error" class="error" role="alert"></div>

  <section id="sim">
    <h2>Cross-lingual similarity</h2>
    <p class="hint">One sentence per line, in any language; every pair is compared (cosine of the
      embeddings).</p>
    <textarea id="sentences" aria-label="sentences" spellcheck="false">The cat sleeps on the sofa.
Die Katze schläft auf dem Sofa.
Le chat dort sur le canapé.
El gato duerme en el sofá.
Stock markets fell sharply this morning.</textarea>
    <div class="row"><button id="compare">Compare</button></div>
    <div id="sim-error" class="error" role="alert"></div>
    <div class="wrap"><table id="heatmap" class="heat"></table></div>
    <div id="heat-caption" class="caption"></div>
  </section>

  <section id="search" class="hidden">
    <h2>Search the corpus</h2>
    <p class="hint" id="corpus-hint">The nearest sentences of the server's corpus to a query in any language.</p>
    <form id="search-form" class="row">
      <input type="text" id="query" placeholder="a sentence in any language" aria-label="query">
      <label>top <input type="number" id="top-k" value="5" min="1" max="100"></label>
      <button type="submit" id="search-btn">Search</button>
    </form>
    <div id="search-error" class="error" role="alert"></div>
    <ol id="results"></ol>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const TIMEOUT_MS = 60000;
let apiKey = null;

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (apiKey) headers["Authorization"] = "Bearer " + apiKey;
  let resp;
  try {
    resp = await fetch(path, { method, headers, signal: ctl.signal,
                               body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, e.name === "AbortError"
      ? "no answer after " + TIMEOUT_MS / 1000 + " s (the server is busy or stopped); try again"
      : "cannot reach the server (" + e.message + ")");
  } finally {
    clearTimeout(timer);
  }
  const text = await resp.text();
  let data = null;
  try { data = JSON.parse(text); } catch (e) { data = null; }
  if (!resp.ok) {
    const why = data && typeof data.error === "string" ? data.error : (text.slice(0, 300) || resp.statusText);
    throw new ApiError(resp.status, "HTTP " + resp.status + ": " + why);
  }
  if (data === null) throw new ApiError(resp.status, "the server's answer is not JSON: " + text.slice(0, 200));
  return { data, model: resp.headers.get("X-Model") };
}

function showError(id, message) {
  const box = $(id);
  box.textContent = message || "";
  box.classList.toggle("shown", Boolean(message));
}

function setStatus(text) { $("status").textContent = text; }

async function busy(button, label, work) {
  const before = button.textContent;
  button.disabled = true;
  button.textContent = label;
  try { await work(); } finally { button.disabled = false; button.textContent = before; }
}

function modelPath(endpoint) {
  const name = $("models").value;
  return name ? "models/" + encodeURIComponent(name) + "/" + endpoint : endpoint;
}

function needKey(message) {
  $("key-panel").classList.remove("hidden");
  showError("key-error", message);
  $("key").focus();
}

async function start() {
  showError("page-error", "");
  setStatus("connecting…");
  let info, models;
  try {
    info = (await api("GET", "info")).data;
    models = (await api("GET", "v1/models")).data.data;
  } catch (e) {
    if (e.status === 401) {
      needKey(apiKey ? "The server refused this key. " + e.message : "");
      setStatus("this server needs an API key");
    } else {
      showError("page-error", e.message);
      setStatus("not connected (retrying in 5 s)");
      setTimeout(start, 5000);
    }
    return;
  }
  $("key-panel").classList.add("hidden");
  showError("key-error", "");
  const select = $("models");
  const chosen = select.value;
  select.textContent = "";
  for (const m of models) {
    const opt = document.createElement("option");
    opt.value = m.id;
    const lineage = m.lineage || {};
    const langs = (lineage.languages || []).join(", ");
    opt.textContent = m.id + (langs ? "  (" + langs + ")" : "");
    select.appendChild(opt);
  }
  if (models.some((m) => m.id === chosen)) select.value = chosen;
  select.disabled = models.length < 2;
  $("model-picker").classList.remove("hidden");
  const corpus = info.corpus_sentences || 0;
  $("search").classList.toggle("hidden", !corpus);
  if (corpus) $("corpus-hint").textContent = "The nearest of the server's " + corpus +
    " corpus sentences to a query in any language.";
  if (!info.ready) {
    setStatus("models are loading… (checking again in 2 s)");
    setTimeout(start, 2000);
    return;
  }
  setStatus("ready · " + models.length + (models.length === 1 ? " model" : " models") +
            (corpus ? " · corpus of " + corpus : ""));
}

function heatColor(score) {
  const t = Math.max(0, Math.min(1, score));
  const light = 97 - 55 * t;
  return { bg: "hsl(222, 75%, " + light + "%)", fg: light < 62 ? "#fff" : "#1d2330" };
}

function drawHeatmap(sentences, vectors, model) {
  const table = $("heatmap");
  table.textContent = "";
  const head = table.insertRow();
  head.appendChild(document.createElement("th"));
  sentences.forEach((s, j) => {
    const th = document.createElement("th");
    th.className = "col";
    th.textContent = String(j + 1);
    th.title = s;
    head.appendChild(th);
  });
  sentences.forEach((s, i) => {
    const row = table.insertRow();
    const th = document.createElement("th");
    th.className = "rowh";
    th.textContent = (i + 1) + ". " + s;
    th.title = s;
    row.appendChild(th);
    sentences.forEach((t, j) => {
      let dot = 0;
      for (let d = 0; d < vectors[i].length; d++) dot += vectors[i][d] * vectors[j][d];
      const cell = row.insertCell();
      const c = heatColor(dot);
      cell.className = "cell";
      cell.dataset.i = i;
      cell.dataset.j = j;
      cell.style.background = c.bg;
      cell.style.color = c.fg;
      cell.textContent = dot.toFixed(2);
      cell.title = "“" + s + "” vs “" + t + "”: " + dot.toFixed(3);
    });
  });
  $("heat-caption").textContent = "cosine similarity by " + model + " (1 = same meaning)";
}

async function compare() {
  showError("sim-error", "");
  const sentences = $("sentences").value.split("\n").map((s) => s.trim()).filter(Boolean);
  if (sentences.length < 2) { showError("sim-error", "Enter at least two sentences, one per line."); return; }
  if (sentences.length > 64) { showError("sim-error", "At most 64 sentences (" + sentences.length + " given)."); return; }
  await busy($("compare"), "Comparing…", async () => {
    try {
      const { data, model } = await api("POST", modelPath("embed"), { inputs: sentences, normalize: true,
                                                                      truncate: true });
      drawHeatmap(sentences, data, model || $("models").value);
    } catch (e) {
      $("heatmap").textContent = "";  // no stale matrix beside the error
      $("heat-caption").textContent = "";
      if (e.status === 401) needKey("The server refused the key. " + e.message);
      showError("sim-error", e.message);
    }
  });
}

async function search() {
  showError("search-error", "");
  const query = $("query").value.trim();
  if (!query) { showError("search-error", "Type a query first."); return; }
  const topK = Math.max(1, Math.min(100, parseInt($("top-k").value, 10) || 5));
  await busy($("search-btn"), "Searching…", async () => {
    const list = $("results");
    try {
      list.textContent = "";
      const { data } = await api("POST", modelPath("search"), { query, top_k: topK });
      for (const hit of data.results) {
        const li = document.createElement("li");
        const score = document.createElement("span");
        score.className = "score";
        score.textContent = hit.score.toFixed(3);
        const bar = document.createElement("span");
        bar.className = "bar";
        const fill = document.createElement("span");
        fill.style.width = Math.max(0, Math.min(100, hit.score * 100)).toFixed(0) + "%";
        bar.appendChild(fill);
        const text = document.createElement("span");
        text.className = "text";
        text.textContent = hit.text;
        li.append(score, bar, text);
        list.appendChild(li);
      }
    } catch (e) {
      if (e.status === 401) needKey("The server refused the key. " + e.message);
      showError("search-error", e.message);
    }
  });
}

$("compare").addEventListener("click", compare);
$("search-form").addEventListener("submit", (ev) => { ev.preventDefault(); search(); });
$("key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  apiKey = $("key").value.trim() || null;
  start();
});
window.addEventListener("error", (ev) => showError("page-error", "page error: " + ev.message));
window.addEventListener("unhandledrejection", (ev) => showError("page-error", "page error: " + ev.reason));
start();
</script>
</body>
</html>
"""


def _sha256_of(tag: str) -> str:
    """The CSP source naming the page's one inline ``<tag>`` (script or style)."""
    body = PAGE.split(f"<{tag}>", 1)[1].split(f"</{tag}>", 1)[0]
    return f"'{csp_hash(body)}'"


# The page may run its own script and style only (named by hash) and talk only to its own server, so markup
# that slipped in (a sentence rendered as HTML by mistake) could neither run code nor send data elsewhere.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; script-src {_sha256_of('script')}; style-src {_sha256_of('style')}; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def ui_page() -> bytes:
    return PAGE.encode("utf-8")
