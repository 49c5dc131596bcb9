// The playground at / : one plain HTML page (no build step, no dependencies) with a form per route.
// It calls the API with fetch (the bearer token, when the server wants one, is kept in localStorage)
// and reads /v1/generate's server-sent events as they arrive. Each form's model list comes from
// /v1/models (first: the model the API picks when none is named; the model's description below it; a
// task no model serves is disabled); the example inputs suit the embedded WordNet models, and the T5
// form has one example per task prefix of t5-wordnet.
export const PLAYGROUND_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgeformer playground</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 860px; margin: 2rem auto; padding: 0 1rem; color: #1d232b; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  section { border: 1px solid #d5dbe3; border-radius: 8px; padding: .8rem 1rem; margin: 1rem 0; }
  h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
  label { display: block; font-size: .85rem; color: #4a5563; margin-top: .4rem; }
  input[type=text], textarea, select { width: 100%; box-sizing: border-box; font: inherit; padding: .35rem .5rem; }
  textarea { min-height: 3.2rem; }
  .row { display: flex; gap: .6rem; align-items: end; }
  .row > * { flex: 1; }
  button { margin-top: .6rem; padding: .4rem 1rem; font: inherit; cursor: pointer; }
  pre { background: #f4f6f9; padding: .6rem; overflow: auto; max-height: 18rem; white-space: pre-wrap; }
  .answer { font-weight: 600; margin: .4rem 0; }
  .err { color: #b3261e; }
  small { color: #6b7480; }
  .desc { display: block; min-height: 1em; margin-top: .2rem; }
  .examples { margin-top: .4rem; font-size: .85rem; color: #4a5563; }
  .examples button { margin: .2rem .3rem 0 0; padding: .15rem .5rem; font-size: .85rem; }
</style>
</head>
<body>
<h1>edgeformer playground</h1>
<small>BERT and T5 on WebAssembly SIMD kernels. API: <a href="/openapi.json">/openapi.json</a> · <a href="/v1/models">/v1/models</a> · <a href="/healthz">/healthz</a></small>

<section>
  <label for="api-key">API key (only when the server sets API_KEY)</label>
  <input type="text" id="api-key" autocomplete="off" placeholder="bearer token">
  <div id="models-status"><small>loading model list…</small></div>
</section>

<section id="fill-mask">
  <h2>Fill mask</h2>
  <div class="row"><div><label for="fill-mask-model">model</label><select id="fill-mask-model" data-task="fill-mask"></select></div>
  <div><label for="fill-mask-top-k">top_k</label><input type="text" id="fill-mask-top-k" value="5"></div></div>
  <small class="desc" id="fill-mask-desc"></small>
  <label for="fill-mask-text">text with [MASK]</label>
  <textarea id="fill-mask-text">a person is a human [MASK].</textarea>
  <button id="fill-mask-run">Fill</button>
  <div class="answer" id="fill-mask-answer"></div>
  <pre id="fill-mask-output"></pre>
</section>

<section id="embeddings">
  <h2>Embeddings</h2>
  <label for="embeddings-model">model</label><select id="embeddings-model" data-task="embeddings"></select>
  <small class="desc" id="embeddings-desc"></small>
  <label for="embeddings-text">one text per line</label>
  <textarea id="embeddings-text">a domestic animal that barks.
a small pet that purrs.</textarea>
  <button id="embeddings-run">Embed</button>
  <div class="answer" id="embeddings-answer"></div>
  <pre id="embeddings-output"></pre>
</section>

<section id="classify">
  <h2>Classify</h2>
  <label for="classify-model">model</label><select id="classify-model" data-task="classify"></select>
  <small class="desc" id="classify-desc"></small>
  <label for="classify-text">text (for bert-wordnet-pos: a definition, as in a dictionary)</label>
  <textarea id="classify-text">move fast by using one's feet, with one foot off the ground at any given time</textarea>
  <button id="classify-run">Classify</button>
  <div class="answer" id="classify-answer"></div>
  <pre id="classify-output"></pre>
</section>

<section id="next-sentence">
  <h2>Next sentence</h2>
  <label for="next-sentence-model">model</label><select id="next-sentence-model" data-task="next-sentence"></select>
  <small class="desc" id="next-sentence-desc"></small>
  <label for="next-sentence-a">sentence A</label><input type="text" id="next-sentence-a" value="a dog is a member of the genus canis.">
  <label for="next-sentence-b">sentence B</label><input type="text" id="next-sentence-b" value="the dog barked all night.">
  <button id="next-sentence-run">Score</button>
  <div class="answer" id="next-sentence-answer"></div>
  <pre id="next-sentence-output"></pre>
</section>

<section id="generate">
  <h2>Generate (T5)</h2>
  <div class="row"><div><label for="generate-model">model</label><select id="generate-model" data-task="generate"></select></div>
  <div><label for="generate-max">max_new_tokens</label><input type="text" id="generate-max" value="20"></div>
  <div><label><input type="checkbox" id="generate-stream" checked> stream</label></div></div>
  <small class="desc" id="generate-desc"></small>
  <label for="generate-text">input</label>
  <textarea id="generate-text">define: house</textarea>
  <div class="examples">examples:
    <button type="button" data-example="define: house">define: house</button>
    <button type="button" data-example="synonyms: happy">synonyms: happy</button>
    <button type="button" data-example="hypernym: oak">hypernym: oak</button>
    <button type="button" data-example="pos: move fast by using one's feet">pos: move fast by using one's feet</button>
    <button type="button" data-example="a dog is a member of the genus &lt;extra_id_0&gt; that has been domesticated by &lt;extra_id_1&gt;">span filling</button>
  </div>
  <button id="generate-run">Generate</button>
  <div class="answer" id="generate-answer"></div>
  <pre id="generate-output"></pre>
</section>

<script>
const $ = (id) => document.getElementById(id);
const keyInput = $("api-key");
keyInput.value = localStorage.getItem("edgeformer-api-key") || "";
keyInput.addEventListener("change", () => { localStorage.setItem("edgeformer-api-key", keyInput.value); loadModels(); });

function headers() {
  const h = { "Content-Type": "application/json" };
  if (keyInput.value) h.Authorization = "Bearer " + keyInput.value;
  return h;
}

async function call(path, body) {
  const res = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body) });
  const json = await res.json().catch(() => ({ error: { code: "bad_response", message: res.statusText } }));
  if (!res.ok) throw new Error((json.error && json.error.code) + ": " + (json.error && json.error.message));
  return { json, timing: res.headers.get("Server-Timing") };
}

function show(name, answer, output, timing) {
  $(name + "-answer").textContent = answer;
  $(name + "-answer").classList.remove("err");
  $(name + "-output").textContent = output + (timing ? "\\n\\nServer-Timing: " + timing : "");
}
function fail(name, err) {
  $(name + "-answer").textContent = String(err.message || err);
  $(name + "-answer").classList.add("err");
}
function model(name) { return $(name + "-model").value || undefined; }

const descriptions = {};
function describe(sel) {
  $(sel.dataset.task + "-desc").textContent = descriptions[sel.value] || "";
}

async function loadModels() {
  try {
    const res = await fetch("/v1/models", { headers: headers() });
    const json = await res.json();
    if (!res.ok) throw new Error(json.error ? json.error.message : res.statusText);
    for (const m of json.data) descriptions[m.id] = m.description || "";
    for (const sel of document.querySelectorAll("select[data-task]")) {
      const task = sel.dataset.task;
      const serving = json.data.filter((m) => m.tasks.includes(task));
      sel.innerHTML = "";
      for (const m of serving) {
        const o = document.createElement("option");
        o.value = o.textContent = m.id;
        sel.appendChild(o);
      }
      if (serving.length === 0) {
        const o = document.createElement("option");
        o.value = "";
        o.textContent = "(no model serves " + task + ")";
        sel.appendChild(o);
      }
      sel.disabled = serving.length === 0;
      $(task + "-run").disabled = serving.length === 0;
      describe(sel);
    }
    $("models-status").innerHTML = "<small>" + json.data.length + " models: " + json.data.map((m) => m.id + " (" + m.tasks.join(", ") + ")").join("; ") + "</small>";
  } catch (err) {
    $("models-status").innerHTML = '<small class="err"></small>';
    $("models-status").firstChild.textContent = "model list: " + err.message;
  }
}

$("fill-mask-run").addEventListener("click", async () => {
  try {
    const { json, timing } = await call("/v1/fill-mask", { inputs: $("fill-mask-text").value, model: model("fill-mask"), top_k: Number($("fill-mask-top-k").value) || 5 });
    const first = Array.isArray(json[0]) ? json[0] : json;
    show("fill-mask", first.map((c) => c.token_str + " (" + c.score.toFixed(3) + ")").join(", "), JSON.stringify(json, null, 2), timing);
  } catch (err) { fail("fill-mask", err); }
});

$("embeddings-run").addEventListener("click", async () => {
  try {
    const input = $("embeddings-text").value.split("\\n").filter((s) => s.trim());
    const { json, timing } = await call("/v1/embeddings", { input, model: model("embeddings") });
    const vecs = json.data.map((d) => d.embedding);
    let answer = vecs.length + " embeddings of " + vecs[0].length + " dimensions";
    if (vecs.length > 1) answer += "; cosine(1, 2) = " + vecs[0].reduce((a, x, i) => a + x * vecs[1][i], 0).toFixed(4);
    show("embeddings", answer, JSON.stringify({ ...json, data: json.data.map((d) => ({ ...d, embedding: d.embedding.slice(0, 8).map((x) => +x.toFixed(4)).concat(["…"]) })) }, null, 2), timing);
  } catch (err) { fail("embeddings", err); }
});

$("classify-run").addEventListener("click", async () => {
  try {
    const { json, timing } = await call("/v1/classify", { inputs: $("classify-text").value, model: model("classify"), top_k: 3 });
    show("classify", json.map((l) => l.label + " " + l.score.toFixed(3)).join(", "), JSON.stringify(json, null, 2), timing);
  } catch (err) { fail("classify", err); }
});

$("next-sentence-run").addEventListener("click", async () => {
  try {
    const { json, timing } = await call("/v1/next-sentence", { inputs: { text: $("next-sentence-a").value, text_pair: $("next-sentence-b").value }, model: model("next-sentence") });
    show("next-sentence", "P(B follows A) = " + json.score.toFixed(4), JSON.stringify(json, null, 2), timing);
  } catch (err) { fail("next-sentence", err); }
});

$("generate-run").addEventListener("click", async () => {
  const body = { inputs: $("generate-text").value, model: model("generate"), max_new_tokens: Number($("generate-max").value) || 20 };
  try {
    if (!$("generate-stream").checked) {
      const { json, timing } = await call("/v1/generate", body);
      show("generate", json[0].generated_text, JSON.stringify(json, null, 2), timing);
      return;
    }
    const res = await fetch("/v1/generate", { method: "POST", headers: headers(), body: JSON.stringify({ ...body, stream: true }) });
    if (!res.ok) { const j = await res.json(); throw new Error(j.error.code + ": " + j.error.message); }
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "", text = "", events = 0;
    show("generate", "", "");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\\n\\n")) >= 0) {
        const block = buf.slice(0, i); buf = buf.slice(i + 2);
        const data = block.split("\\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\\n");
        if (!data) continue;
        const ev = JSON.parse(data);
        if (ev.error) throw new Error(ev.error.code + ": " + ev.error.message);
        events++;
        text += ev.token.text;
        $("generate-answer").textContent = text;
        $("generate-output").textContent = events + " events" + (ev.details ? "; finish: " + ev.details.finish_reason : "");
      }
    }
  } catch (err) { fail("generate", err); }
});

for (const sel of document.querySelectorAll("select[data-task]")) sel.addEventListener("change", () => describe(sel));
for (const b of document.querySelectorAll("button[data-example]"))
  b.addEventListener("click", () => { $("generate-text").value = b.dataset.example; });

loadModels();
</script>
</body>
</html>
`;
