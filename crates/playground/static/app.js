// The playground page: talks to /v1/chat/completions with streaming. Model output is only ever
// put into the page with textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const turns = []; // {role, content, logprobs}
let controller = null;

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

// Sliders show their value next to their label.
for (const id of ["temperature", "max-tokens", "top-p", "frequency-penalty", "presence-penalty"]) {
  const input = $(id);
  const show = () => {
    $(id + "-value").textContent = id === "max-tokens" ? input.value : Number(input.value).toFixed(2);
  };
  input.addEventListener("input", show);
  show();
}

async function loadModels() {
  try {
    const response = await fetch("/v1/models");
    const list = await response.json();
    const select = $("model");
    select.replaceChildren();
    for (const model of list.data.filter((m) => m.kind === "text-generation")) {
      const option = document.createElement("option");
      option.value = model.id;
      option.textContent = model.id;
      option.dataset.context = model.context_length;
      option.dataset.template = model.chat_template;
      select.append(option);
    }
    showModelInfo();
    setStatus("ready");
  } catch (error) {
    setStatus("cannot list models: " + error, true);
  }
}

function showModelInfo() {
  const option = $("model").selectedOptions[0];
  if (!option) return;
  const kind = option.dataset.template === "true" ? "tuned: prompts go through its template" : "plain language model: continues the text";
  $("model-info").textContent = `context ${option.dataset.context} tokens; ${kind}`;
}
$("model").addEventListener("change", showModelInfo);

function stopSequences() {
  return $("stop").value
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => line.replaceAll("\\n", "\n").replaceAll("\\t", "\t"));
}

function request() {
  const messages = [];
  const system = $("system").value.trim();
  if (system) messages.push({ role: "system", content: system });
  for (const turn of turns) messages.push({ role: turn.role, content: turn.content });
  const body = {
    model: $("model").value || undefined,
    messages,
    temperature: Number($("temperature").value),
    max_tokens: Number($("max-tokens").value),
    top_p: Number($("top-p").value),
    frequency_penalty: Number($("frequency-penalty").value),
    presence_penalty: Number($("presence-penalty").value),
    stream: true,
    stream_options: { include_usage: true },
    logprobs: true,
    top_logprobs: 5,
  };
  const stop = stopSequences();
  if (stop.length) body.stop = stop;
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  return body;
}

// One turn in the list; returns its text element.
function addTurn(turn) {
  const item = document.createElement("li");
  item.className = turn.role;
  const role = document.createElement("div");
  role.className = "role";
  const name = document.createElement("span");
  name.textContent = turn.role;
  role.append(name);
  const text = document.createElement("div");
  text.className = "text";
  text.textContent = turn.content;
  const meta = document.createElement("div");
  meta.className = "meta";
  item.append(role, text, meta);
  if (turn.role === "assistant") {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "linklike show-probabilities";
    button.textContent = "probabilities";
    button.addEventListener("click", () => showProbabilities(turn));
    role.append(button);
  }
  $("messages").append(item);
  return { text, meta };
}

const percent = (logprob) => (100 * Math.exp(logprob)).toFixed(2) + "%";

function showProbabilities(turn) {
  const panel = $("probabilities");
  const tokens = $("prob-tokens");
  tokens.replaceChildren();
  $("prob-table").tBodies[0].replaceChildren();
  for (const entry of turn.logprobs) {
    const span = document.createElement("span");
    span.textContent = entry.token;
    span.title = percent(entry.logprob);
    // more probable tokens are shaded greener, less probable redder
    const p = Math.exp(entry.logprob);
    span.style.backgroundColor = `hsla(${Math.round(120 * p)}, 70%, 55%, 0.35)`;
    span.addEventListener("click", () => {
      for (const other of tokens.children) other.classList.remove("selected");
      span.classList.add("selected");
      showAlternatives(entry);
    });
    tokens.append(span);
  }
  panel.hidden = false;
  if (turn.logprobs.length) showAlternatives(turn.logprobs[0]);
}

function showAlternatives(entry) {
  const body = $("prob-table").tBodies[0];
  body.replaceChildren();
  const rows = [...entry.top_logprobs];
  // a sampled token may lie outside the best alternatives: show it too
  if (!rows.some((r) => r.token === entry.token)) rows.push(entry);
  for (const alternative of rows) {
    const row = document.createElement("tr");
    if (alternative.token === entry.token) row.className = "chosen";
    const token = document.createElement("td");
    token.textContent = JSON.stringify(alternative.token);
    const probability = document.createElement("td");
    probability.textContent = percent(alternative.logprob);
    row.append(token, probability);
    body.append(row);
  }
}
$("close-probabilities").addEventListener("click", () => { $("probabilities").hidden = true; });

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop-button").disabled = !busy;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body.error ? body.error.message : response.statusText;
  } catch {
    return response.status + " " + response.statusText;
  }
}

async function submit(event) {
  event.preventDefault();
  const prompt = $("prompt").value;
  if (prompt.trim()) {
    const turn = { role: "user", content: prompt, logprobs: [] };
    turns.push(turn);
    addTurn(turn);
    $("prompt").value = "";
  }
  if (!turns.length) {
    setStatus("type a message first", true);
    return;
  }
  const reply = { role: "assistant", content: "", logprobs: [] };
  const view = addTurn(reply);
  controller = new AbortController();
  setBusy(true);
  setStatus("generating…");
  let tokens = 0;
  let finish = null;
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request()),
      signal: controller.signal,
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const lines = buffer.slice(0, end).split("\n");
        buffer = buffer.slice(end + 2);
        for (const line of lines) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trimStart();
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.usage) tokens = chunk.usage.completion_tokens;
          if (chunk.prompt_truncated) view.meta.textContent = "prompt truncated to the model's context; ";
          const choice = chunk.choices[0];
          if (!choice) continue;
          if (choice.delta.content) {
            reply.content += choice.delta.content;
            view.text.textContent = reply.content;
            tokens += 1;
          }
          if (choice.logprobs) reply.logprobs.push(...choice.logprobs.content);
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }
      $("token-count").textContent = tokens + " tokens";
    }
    setStatus("done");
  } catch (error) {
    if (error.name === "AbortError") {
      finish = "stopped";
      setStatus("stopped");
    } else {
      finish = "error";
      setStatus(String(error.message || error), true);
    }
  }
  $("token-count").textContent = tokens + " tokens";
  view.meta.textContent += (finish ? "finish: " + finish : "");
  if (reply.content) turns.push(reply);
  controller = null;
  setBusy(false);
  if ($("show-probabilities").checked) showProbabilities(reply);
}

$("composer").addEventListener("submit", submit);
$("prompt").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("composer").requestSubmit();
});
$("stop-button").addEventListener("click", () => { if (controller) controller.abort(); });
$("clear").addEventListener("click", () => {
  turns.length = 0;
  $("messages").replaceChildren();
  $("probabilities").hidden = true;
  $("token-count").textContent = "0 tokens";
});

loadModels();
