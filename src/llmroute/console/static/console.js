// llmroute routing console. Plain JS, no dependencies; talks to /console/api/* on this gateway.
"use strict";

const $ = (selector) => document.querySelector(selector);

// Build an element: el("td", {class: "num"}, "12"). Text always goes in as text, never as HTML.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "value") node.value = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// --- the API, with the admin key when the gateway has keys ---------------------------------------

const state = { config: null, routes: [], key: sessionStorage.getItem("llmroute-console-key") || "" };

async function api(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (state.key) headers.Authorization = "Bearer " + state.key;
  const response = await fetch("/console/api/" + path, {
    method: body === undefined ? "GET" : "POST",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (_) { /* not JSON */ }
  if (response.status === 401 || response.status === 403) {
    $("#keyform").hidden = false;
    throw new Error((data && data.error && data.error.message) || "an admin key is needed");
  }
  if (!response.ok) {
    const message = data && (data.error && data.error.message ? data.error.message : data.error);
    throw new Error(message || "HTTP " + response.status);
  }
  return data;
}

function banner(message) {
  const node = $("#banner");
  node.textContent = message || "";
  node.hidden = !message;
}

// --- tabs ----------------------------------------------------------------------------------------

function showTab(name) {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.tab === name);
  }
  for (const section of document.querySelectorAll("section.tab")) section.hidden = section.id !== name;
  if (name === "live") refreshLive();
}

// --- the route editor ----------------------------------------------------------------------------

function routeCard(route) {
  const card = el("div", { class: "route", "data-route": route.name });
  const name = el("input", { class: "name", value: route.name, "aria-label": "route name" });
  const description = el("textarea", { class: "description", rows: 2, "aria-label": "description" });
  description.value = route.description || "";
  const examples = el("textarea", { class: "examples", rows: 2, placeholder: "examples, one per line" });
  examples.value = (route.examples || []).join("\n");
  const models = el("input", { class: "models", value: (route.models || []).join(", "), placeholder: "models (optional), comma separated" });
  const remove = el("button", { class: "remove", title: "remove this route", onclick: () => { card.remove(); scheduleDecide(); } }, "✕");
  for (const input of [name, description, examples, models]) input.addEventListener("input", scheduleDecide);
  card.append(el("div", { class: "row" }, name, remove), description, examples, models);
  return card;
}

function setRoutes(routes) {
  const list = $("#route-list");
  list.replaceChildren(...routes.map(routeCard));
}

function editedRoutes() {
  const routes = [];
  for (const card of document.querySelectorAll("#route-list .route")) {
    const name = card.querySelector(".name").value.trim();
    const description = card.querySelector(".description").value.trim();
    if (!name || !description) continue;
    const route = { name, description };
    const examples = card.querySelector(".examples").value.split("\n").map((s) => s.trim()).filter(Boolean);
    if (examples.length) route.examples = examples;
    const models = card.querySelector(".models").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (models.length) route.models = models;
    routes.push(route);
  }
  return routes;
}

// --- the conversation ----------------------------------------------------------------------------

function conversation() {
  const text = $("#conversation").value;
  const turn = /^(user|assistant|system)\s*:\s?/i;
  if (!text.split("\n").some((line) => turn.test(line))) return [{ role: "user", content: text }];
  const messages = [];
  for (const line of text.split("\n")) {
    const match = line.match(turn);
    if (match) messages.push({ role: match[1].toLowerCase(), content: line.slice(match[0].length) });
    else if (messages.length) messages[messages.length - 1].content += "\n" + line;
  }
  return messages;
}

// --- decisions -----------------------------------------------------------------------------------

let decideTimer = null;
let decideSeq = 0;

function scheduleDecide() {
  clearTimeout(decideTimer);
  decideTimer = setTimeout(decide, 350);
}

async function decide() {
  const seq = ++decideSeq;
  const routes = editedRoutes();
  $("#decide-status").textContent = "deciding…";
  try {
    const result = await api("decide", { messages: conversation(), routes });
    if (seq !== decideSeq) return; // a newer edit already asked again
    renderDecision(result);
    $("#decide-status").textContent = `${result.latency_ms.toFixed(1)} ms`;
    banner("");
  } catch (error) {
    if (seq !== decideSeq) return;
    $("#decide-status").textContent = "";
    banner(error.message);
  }
}

function numeric(value) {
  return typeof value === "number" && Number.isFinite(value);
}

function format(value) {
  if (numeric(value)) return Number.isInteger(value) ? String(value) : value.toFixed(4);
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.map(format).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

// Horizontal bars for {label: number}; `best` is highlighted. Values in [-1, 1] are drawn on a 0..1 scale.
function bars(container, values, best, attr) {
  const entries = Object.entries(values).filter(([, v]) => numeric(v));
  const max = Math.max(...entries.map(([, v]) => Math.abs(v)), 1e-9);
  const scale = max <= 1 ? 1 : max;
  container.replaceChildren(
    ...entries.map(([name, value]) => {
      const fill = el("div", { class: "fill" });
      // Through the CSSOM: the page's Content-Security-Policy refuses inline style attributes.
      fill.style.width = (Math.max(0, Math.min(1, value / scale)) * 100).toFixed(1) + "%";
      return el("div", { class: "bar" + (name === best ? " best" : ""), [attr]: name },
        el("span", { class: "name", title: name }, name),
        el("div", { class: "track" }, fill),
        el("span", { class: "value" }, format(value)));
    }),
  );
}

function kvTable(object) {
  const rows = [];
  for (const [key, value] of Object.entries(object)) {
    let cell;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      cell = el("table", { class: "kv" }, el("tbody", {},
        Object.entries(value).map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, format(v))))));
    } else {
      cell = format(value);
    }
    rows.push(el("tr", { "data-key": key }, el("td", {}, key), el("td", {}, cell)));
  }
  return el("table", { class: "kv" }, el("tbody", {}, rows));
}

function renderDecision(result) {
  $("#decision").hidden = false;
  const route = $("#d-route");
  route.textContent = result.route || "none (fallback model)";
  route.classList.toggle("none", !result.route);
  $("#d-models").textContent = result.models.length ? result.models.join(" → ") : "—";
  $("#d-threshold").textContent = result.threshold === null ? "—" : format(result.threshold);
  $("#d-backend").textContent = result.backend;
  const details = result.details || {};
  const scores = details.scores && typeof details.scores === "object" ? details.scores
    : (result.route ? { [result.route]: result.score } : {});
  // The router lists its scores best route first (its ranking, not always the highest score).
  const best = result.route || Object.keys(scores)[0];
  bars($("#score-bars"), scores, best, "data-route");
  const evidence = { score: result.score, margin: result.margin };
  for (const [key, value] of Object.entries(details)) if (key !== "scores") evidence[key] = value;
  $("#evidence").replaceChildren(kvTable(evidence));
  for (const card of document.querySelectorAll("#route-list .route")) {
    card.classList.toggle("winner", card.querySelector(".name").value.trim() === result.route);
  }
}

// --- evaluation ----------------------------------------------------------------------------------

async function runEval() {
  const file = $("#eval-file").files[0];
  const text = file ? await file.text() : $("#eval-text").value;
  if (!text.trim()) { banner("choose a .jsonl file or paste cases"); return; }
  $("#eval-status").textContent = "running…";
  try {
    const report = await api("eval", { cases: text, routes: editedRoutes() });
    renderEval(report);
    $("#eval-status").textContent = "";
    banner("");
  } catch (error) {
    $("#eval-status").textContent = "";
    banner(error.message);
  }
}

function renderEval(report) {
  $("#eval-result").hidden = false;
  const accuracy = $("#e-accuracy");
  accuracy.textContent = (report.accuracy * 100).toFixed(1) + "%";
  accuracy.className = report.accuracy >= 0.9 ? "good" : report.accuracy >= 0.7 ? "warn" : "bad";
  const latency = report.latency_ms || {};
  $("#e-summary").textContent = `${report.cases} cases · p50 ${format(latency.p50)} ms · p99 ${format(latency.p99)} ms`
    + (report.errors.length ? ` · ${report.errors.length} errors` : "");
  const perScenario = {};
  for (const [name, s] of Object.entries(report.per_scenario)) perScenario[`${name} (${s.correct}/${s.total})`] = s.accuracy;
  bars($("#e-scenarios"), perScenario, null, "data-scenario");
  $("#e-confusions tbody").replaceChildren(...report.confusions.map((c) =>
    el("tr", {}, el("td", {}, format(c.expected)), el("td", {}, format(c.got)), el("td", { class: "num" }, c.count))));
  const misses = report.results.filter((r) => !r.correct).slice(0, 50);
  $("#e-misses tbody").replaceChildren(...misses.map((r) =>
    el("tr", {}, el("td", {}, r.id), el("td", {}, r.scenario), el("td", {}, format(r.expected)), el("td", {}, format(r.got)))));
}

// --- live view -----------------------------------------------------------------------------------

let liveTimer = null;

async function refreshLive() {
  clearTimeout(liveTimer);
  if ($("#live").hidden) return;
  try {
    renderLive(await api("live"));
    $("#live-status").textContent = "updated " + new Date().toLocaleTimeString([], { hour12: false });
    banner("");
  } catch (error) {
    banner(error.message);
  }
  if ($("#live-auto").checked) liveTimer = setTimeout(refreshLive, 2000);
}

function renderLive(live) {
  const showContent = live.show_content;
  for (const cell of document.querySelectorAll(".content-col")) cell.hidden = !showContent;
  $("#recent tbody").replaceChildren(...live.recent.map((r) => el("tr", {},
    el("td", { class: "time" }, new Date(r.time * 1000).toLocaleTimeString([], { hour12: false })),
    el("td", {}, r.endpoint),
    el("td", { class: r.status >= 400 ? "bad" : "" }, r.status),
    el("td", {}, r.route || "—"),
    el("td", {}, r.model || "—"),
    el("td", {}, r.pinned ? "yes" : ""),
    el("td", { class: "num" + (r.failovers ? " warn" : "") }, r.failovers),
    el("td", { class: "num" }, r.latency_ms.toFixed(1) + " ms"),
    showContent ? el("td", {}, r.content || "") : null)));
  latencyHistogram($("#latency-chart"), live.recent.map((r) => r.latency_ms));
  $("#cooldowns tbody").replaceChildren(...(live.cooldowns.length ? live.cooldowns.map((c) =>
    el("tr", {}, el("td", {}, c.target), el("td", { class: "num" }, c.seconds_left.toFixed(1)))) : [emptyRow(2)]));
  $("#deployments tbody").replaceChildren(...(live.deployments.length ? live.deployments.map((d) =>
    el("tr", {}, el("td", {}, d.model), el("td", {}, d.deployment), el("td", { class: "num" }, d.weight),
      el("td", { class: "num" }, d.in_flight))) : [emptyRow(4)]));
  const metrics = live.metrics || { sources: [], routes: [] };
  $("#sources tbody").replaceChildren(...(metrics.sources.length ? metrics.sources.map((s) =>
    el("tr", {}, el("td", {}, `${s.name} (${s.kind})`), el("td", { class: s.loaded ? "good" : "bad" }, s.loaded ? "yes" : "no"),
      el("td", {}, s.age_seconds === null ? "—" : s.age_seconds.toFixed(0) + " s"), el("td", {}, s.last_error || ""))) : [emptyRow(4)]));
  $("#ranking tbody").replaceChildren(...(metrics.routes.length ? metrics.routes.map((r) =>
    el("tr", {}, el("td", {}, r.name), el("td", {}, r.prefer),
      el("td", {}, r.ranked.map((m) => `${m.model} (${format(m.cost ?? m.latency)})`).join(" → ")))) : [emptyRow(3)]));
}

function emptyRow(columns) {
  return el("tr", {}, el("td", { colspan: columns, class: "muted" }, "none"));
}

// Latency histogram as SVG bars over fixed bins (ms).
function latencyHistogram(container, values) {
  const edges = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, Infinity];
  const counts = edges.slice(0, -1).map(() => 0);
  for (const v of values) {
    const i = edges.findIndex((edge, index) => v >= edge && v < edges[index + 1]);
    if (i >= 0) counts[i] += 1;
  }
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 480 140");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "latency histogram");
  const max = Math.max(...counts, 1);
  const width = 480 / counts.length;
  counts.forEach((count, i) => {
    const height = (count / max) * 90;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", (i * width + 2).toFixed(1));
    rect.setAttribute("y", (112 - height).toFixed(1));
    rect.setAttribute("width", (width - 4).toFixed(1));
    rect.setAttribute("height", height.toFixed(1));
    rect.setAttribute("data-count", count);
    svg.append(rect);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", (i * width + width / 2).toFixed(1));
    label.setAttribute("y", "126");
    label.setAttribute("text-anchor", "middle");
    label.textContent = edges[i + 1] === Infinity ? `${edges[i]}+` : `<${edges[i + 1]}`;
    svg.append(label);
    if (count) {
      const value = document.createElementNS(ns, "text");
      value.setAttribute("x", (i * width + width / 2).toFixed(1));
      value.setAttribute("y", (108 - height).toFixed(1));
      value.setAttribute("text-anchor", "middle");
      value.textContent = count;
      svg.append(value);
    }
  });
  const unit = document.createElementNS(ns, "text");
  unit.setAttribute("x", "478");
  unit.setAttribute("y", "138");
  unit.setAttribute("text-anchor", "end");
  unit.textContent = `ms (${values.length} requests)`;
  svg.append(unit);
  container.replaceChildren(svg);
}

// --- start ---------------------------------------------------------------------------------------

async function loadState() {
  state.config = await api("state");
  setRoutes(state.config.routes);
  banner(state.config.routes.length ? "" : "The config has no routes: add some, or paste a route set.");
}

async function start() {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  $("#keyform").addEventListener("submit", async (event) => {
    event.preventDefault();
    state.key = $("#key").value.trim();
    sessionStorage.setItem("llmroute-console-key", state.key);
    try { await loadState(); $("#keyform").hidden = true; } catch (error) { banner(error.message); }
  });
  $("#load-config").addEventListener("click", () => { setRoutes(state.config ? state.config.routes : []); scheduleDecide(); });
  $("#add-route").addEventListener("click", () => {
    $("#route-list").append(routeCard({ name: "new_route", description: "", examples: [], models: [] }));
  });
  $("#toggle-paste").addEventListener("click", () => {
    const box = $("#paste-box");
    box.hidden = !box.hidden;
    if (!box.hidden) $("#paste-json").value = JSON.stringify(editedRoutes(), null, 2);
  });
  $("#apply-paste").addEventListener("click", () => {
    try {
      const routes = JSON.parse($("#paste-json").value);
      if (!Array.isArray(routes)) throw new Error("expected a JSON array of routes");
      setRoutes(routes);
      $("#paste-box").hidden = true;
      scheduleDecide();
    } catch (error) { banner("routes JSON: " + error.message); }
  });
  $("#decide").addEventListener("click", decide);
  $("#conversation").addEventListener("input", scheduleDecide);
  $("#run-eval").addEventListener("click", runEval);
  $("#live-refresh").addEventListener("click", refreshLive);
  $("#live-auto").addEventListener("change", refreshLive);
  try { await loadState(); } catch (error) { banner(error.message); }
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
