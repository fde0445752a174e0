// emovox page: microphone -> AudioWorklet -> WebSocket /v1/stream, and file -> POST /v1/predict.
"use strict";

const COLORS = {
  neutral: "#8b95a7", calm: "#2bb0a6", happy: "#f4b63f", sad: "#4d7ce8",
  angry: "#e5484d", fearful: "#8e5cd9", disgust: "#5aa85b", surprised: "#ef6fb0",
};
const WINDOW_S = 30;      // the live timeline shows the last 30 s; it never grows the page
const MAX_LIST = 100;     // segments kept in the live list
const $ = (id) => document.getElementById(id);
const page = { labels: [], key: localStorage.getItem("emovox-key") || "", live: null, clock: 0, result: null };

function color(label) { return COLORS[label] || "#7a8699"; }
function headers() { return page.key ? { "X-API-Key": page.key } : {}; }
function percent(p) { return `${Math.round(100 * p)}%`; }
function seconds(s) { return s >= 60 ? `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}` : `${s.toFixed(1)} s`; }
function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// -- bars: one per emotion ------------------------------------------------------------------------------------------

function buildBars(box, labels) {
  box.replaceChildren(...labels.map((label) => {
    const row = element("div", "bar");
    row.dataset.label = label;
    const fill = element("span", "bar-fill");
    fill.style.background = color(label);
    const track = element("span", "bar-track");
    track.append(fill);
    row.append(element("span", "bar-name", label), track, element("span", "bar-value", "0%"));
    return row;
  }));
}

function setBars(box, probabilities) {
  const best = Object.keys(probabilities).reduce((a, b) => (probabilities[a] >= probabilities[b] ? a : b));
  for (const row of box.children) {
    const p = probabilities[row.dataset.label] || 0;
    row.querySelector(".bar-fill").style.width = percent(p);
    row.querySelector(".bar-value").textContent = percent(p);
    row.classList.toggle("best", row.dataset.label === best);
  }
}

// -- the model and its limits ---------------------------------------------------------------------------------------

async function loadModel() {
  const response = await fetch("/v1/model", { headers: headers() });
  if (response.status === 401) {
    $("key-box").hidden = false;
    $("model").textContent = "API key needed";
    return;
  }
  const info = await response.json();
  page.labels = info.labels;
  $("key-box").hidden = true;
  $("model").textContent = `${(info.model && info.model.name) || info.file} · ${info.labels.length} emotions`;
  $("model").title = info.labels.join(", ");
  const minutes = info.limits.max_duration / 60;
  const formats = info.formats.slice(0, 4).join(", ") + (info.formats.length > 4 ? ", …" : "");
  $("formats").textContent = `${formats} · up to ${minutes >= 1 ? `${+minutes.toFixed(1)} min` : `${info.limits.max_duration} s`}`;
  $("formats").title = info.formats.join(", ");
  buildBars($("live-bars"), info.labels);
}

// -- live: the microphone streamed over the WebSocket --------------------------------------------------------------

function status(text, kind = "") {
  $("status").textContent = text;
  $("status").className = `status ${kind}`;
}

async function start() {
  const media = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const context = new AudioContext();
  await context.audioWorklet.addModule("/static/worklet.js");
  const source = context.createMediaStreamSource(media);
  const node = new AudioWorkletNode(context, "pcm-sender", { processorOptions: { blockSeconds: 0.1 } });
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/stream`);
  ws.binaryType = "arraybuffer";
  const live = { media, context, node, ws, ready: false, pending: null };
  page.live = live;
  page.clock = 0;
  $("track").replaceChildren();
  renderLive();
  ws.onopen = () => ws.send(JSON.stringify({ rate: context.sampleRate, format: "s16", api_key: page.key || undefined }));
  ws.onmessage = (message) => onEvent(JSON.parse(message.data));
  ws.onclose = (close) => { if (page.live === live) stop(close.code === 1000 ? "" : close.reason || "connection closed"); };
  node.port.onmessage = (message) => {
    $("level").style.width = `${Math.min(100, 300 * message.data.rms)}%`;
    if (live.ready && ws.readyState === WebSocket.OPEN) {
      ws.send(message.data.pcm);
      page.clock += message.data.pcm.byteLength / 2 / context.sampleRate;
      renderLive();
    }
  };
  source.connect(node).connect(context.destination);  // the node writes silence; the link keeps it running
  $("start").setAttribute("aria-pressed", "true");
  $("start-text").textContent = "Stop";
  status("Connecting…");
}

function stop(problem = "") {
  const live = page.live;
  page.live = null;
  if (live) {
    live.media.getTracks().forEach((track) => track.stop());
    live.context.close();
    if (live.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify({ type: "end" }));
    live.ws.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "segment") addSegment(event);
      if (event.type === "done") live.ws.close();
    };
    if (live.pending) live.pending.remove();
  }
  $("start").setAttribute("aria-pressed", "false");
  $("start-text").textContent = "Start";
  $("level").style.width = "0";
  status(problem ? `Stopped: ${problem}` : "Microphone off", problem ? "bad" : "");
}

function onEvent(event) {
  if (event.type === "ready") {
    page.live.ready = true;
    status(`Listening · ${event.rate} Hz`, "on");
  } else if (event.type === "estimate" || event.type === "segment") {
    setBars($("live-bars"), event.probabilities);
    $("current-label").textContent = event.label;
    $("current-label").style.color = color(event.label);
    if (event.type === "segment") addSegment(event);
    else showPending(event);
  } else if (event.type === "error") {
    stop(event.message);
  }
}

function timelineBlock(seg) {
  const block = element("div", "block");
  block.dataset.start = seg.start_s;
  block.dataset.end = seg.end_s;
  block.dataset.label = seg.label;
  block.style.background = color(seg.label);
  block.title = `${seg.label} ${seg.start_s.toFixed(1)}–${seg.end_s.toFixed(1)} s`;
  return block;
}

function showPending(estimate) {
  const live = page.live;
  if (!live) return;
  if (live.pending) live.pending.remove();
  live.pending = timelineBlock(estimate);
  live.pending.classList.add("pending");
  $("track").append(live.pending);
  renderLive();
}

function addSegment(seg) {
  if (page.live && page.live.pending) { page.live.pending.remove(); page.live.pending = null; }
  $("track").append(timelineBlock(seg));
  renderLive();
  const li = element("li", "segment");
  li.dataset.label = seg.label;
  const dot = element("span", "dot");
  dot.style.background = color(seg.label);
  li.append(dot, element("span", "seg-label", seg.label),
    element("span", "seg-time", `${seg.start_s.toFixed(1)}–${seg.end_s.toFixed(1)} s · ${percent(seg.probabilities[seg.label] || 0)}`));
  const list = $("segments");
  list.prepend(li);
  while (list.children.length > MAX_LIST) list.lastChild.remove();
}

// Places the blocks of the last WINDOW_S seconds by percentage, drops older ones: the box never grows.
function renderLive() {
  const end = Math.max(WINDOW_S, page.clock);
  const begin = end - WINDOW_S;
  const track = $("track");
  for (const block of [...track.children]) {
    const s = Number(block.dataset.start), e = Number(block.dataset.end);
    if (e < begin) { block.remove(); continue; }
    const left = Math.max(s, begin);
    block.style.left = `${(100 * (left - begin)) / WINDOW_S}%`;
    block.style.width = `max(4px, ${(100 * (e - left)) / WINDOW_S}%)`;
    labelIfRoom(block, (track.clientWidth * (e - left)) / WINDOW_S);
  }
  const axis = $("live-axis");
  const marks = [];
  for (let t = Math.ceil(begin / 10) * 10; t <= end; t += 10) marks.push(t);
  if (axis.dataset.marks !== marks.join()) {
    axis.dataset.marks = marks.join();
    axis.replaceChildren(...marks.map((t) => {
      const tick = element("span", "tick", t >= 60 ? seconds(t) : `${t} s`);
      tick.dataset.t = t;
      return tick;
    }));
  }
  for (const tick of axis.children) placeTick(tick, (100 * (Number(tick.dataset.t) - begin)) / WINDOW_S);
}

// A block shows its emotion's name only when the name fits in it.
function labelIfRoom(block, widthPx) {
  const text = !block.classList.contains("pending") && widthPx > 14 + 7.5 * block.dataset.label.length ? block.dataset.label : "";
  if (block.textContent !== text) block.textContent = text;
}

// A time label at `at` percent of the axis, kept inside the box at either end.
function placeTick(tick, at) {
  tick.style.left = `${at}%`;
  tick.style.transform = at < 8 ? "none" : at > 92 ? "translateX(-100%)" : "translateX(-50%)";
}

// -- a file: POST /v1/predict, shown as its timeline with a summary from the same rows ------------------------------

async function upload(file) {
  $("file-error").hidden = true;
  $("file-result").hidden = true;
  $("file-busy").hidden = false;
  $("drop").classList.add("busy");
  try {
    const form = new FormData();
    form.append("file", file, file.name);
    const response = await fetch("/v1/predict", { method: "POST", body: form, headers: headers() });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
    showResult(body);
  } catch (error) {
    $("file-error").textContent = error.message;
    $("file-error").hidden = false;
  } finally {
    $("drop").classList.remove("busy");
    $("file-busy").hidden = true;
  }
}

function showResult(body) {
  page.result = body;
  const rows = body.predictions;
  $("file-name").textContent = `${body.name} · ${body.duration_s.toFixed(1)} s`;
  $("file-label").textContent = body.label;
  $("file-label").style.background = color(body.label);
  const whole = body.kind === "whole";
  $("file-summary").textContent = whole
    ? "for the whole recording"
    : `for ${percent(body.share[body.label] || 0)} of the speech`;
  const ranked = Object.entries(body.share).filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]);
  $("file-share").replaceChildren(...ranked.map(([label, share]) => {
    const part = element("span", "share-part");
    part.style.width = `${100 * share}%`;
    part.style.background = color(label);
    part.title = `${label} ${percent(share)}`;
    return part;
  }));
  $("file-legend").replaceChildren(...ranked.map(([label, share]) => {
    const item = element("li");
    item.dataset.label = label;
    const dot = element("span", "dot");
    dot.style.background = color(label);
    item.append(dot, element("span", "legend-label", label), element("span", "legend-value", percent(share)));
    return item;
  }));
  $("file-kind").textContent = whole ? "one answer for the whole recording"
    : `${rows.length} stretch${rows.length === 1 ? "" : "es"} of speech`;
  $("file-result").hidden = false;  // shown first: the blocks' labels depend on the box's width
  const duration = Math.max(body.duration_s, ...rows.map((r) => r.end_s), 1e-3);
  const width = $("file-track").clientWidth;
  $("file-track").replaceChildren(...rows.map((row) => {
    const block = timelineBlock(row);
    block.style.left = `${(100 * row.start_s) / duration}%`;
    block.style.width = `max(3px, ${(100 * (row.end_s - row.start_s)) / duration}%)`;
    labelIfRoom(block, (width * (row.end_s - row.start_s)) / duration);
    return block;
  }));
  $("file-axis").replaceChildren(...[0, duration / 2, duration].map((t, i) => {
    const tick = element("span", "tick", seconds(t));
    placeTick(tick, 50 * i);
    return tick;
  }));
  $("file-rows").replaceChildren(...rows.map((row) => {
    const tr = element("tr");
    tr.dataset.label = row.label;
    const label = element("td", "row-label");
    const dot = element("span", "dot");
    dot.style.background = color(row.label);
    label.append(dot, element("span", "", row.label));
    tr.append(element("td", "num-time", `${row.start_s.toFixed(1)}–${row.end_s.toFixed(1)} s`), label,
      element("td", "num", percent(row.probabilities[row.label] || 0)));
    return tr;
  }));
  $("file-result").hidden = false;
}

// The result as a file, made in the browser from the answer (the columns of `emovox predict --csv`).
function csvOf(body) {
  const labels = Object.keys(body.probabilities);
  const quote = (value) => (/[",\n\r]/.test(String(value)) ? `"${String(value).replace(/"/g, '""')}"` : String(value));
  const lines = [["file", "start_s", "end_s", "label", "confidence", "kind", "index", ...labels.map((l) => `p_${l}`)].join(",")];
  for (const row of body.predictions) {
    lines.push([body.name, row.start_s, row.end_s, row.label, row.probabilities[row.label], row.kind, row.index,
      ...labels.map((l) => row.probabilities[l])].map(quote).join(","));
  }
  return lines.join("\n") + "\n";
}

function download(text, type, suffix) {
  const body = page.result;
  if (!body) return;
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = element("a");
  link.href = url;
  link.download = `${body.name.replace(/\.[^.]*$/, "") || "upload"}.emotions.${suffix}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// -- wiring ---------------------------------------------------------------------------------------------------------

function wire() {
  $("start").addEventListener("click", () => {
    if (page.live) { stop(); return; }
    start().catch((error) => { stop(error.message || String(error)); });
  });
  $("file").addEventListener("change", (e) => { if (e.target.files[0]) upload(e.target.files[0]); });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]);
  });
  $("download-csv").addEventListener("click", () => download(csvOf(page.result), "text/csv", "csv"));
  $("download-json").addEventListener("click", () => download(JSON.stringify(page.result, null, 2) + "\n", "application/json", "json"));
  $("key-save").addEventListener("click", () => {
    page.key = $("api-key").value.trim();
    localStorage.setItem("emovox-key", page.key);
    loadModel();
  });
  renderLive();
  loadModel().catch((error) => { $("model").textContent = `model unavailable: ${error.message}`; });
}

wire();
