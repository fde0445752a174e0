// emovox page: microphone -> AudioWorklet -> WebSocket /v1/stream, and file -> POST /v1/predict.
"use strict";

const COLORS = {
  neutral: "#8b95a7", calm: "#2bb0a6", happy: "#f4b63f", sad: "#4d7ce8",
  angry: "#e5484d", fearful: "#8e5cd9", disgust: "#5aa85b", surprised: "#ef6fb0",
};
const $ = (id) => document.getElementById(id);
const page = { labels: [], key: localStorage.getItem("emovox-key") || "", live: null, segments: 0 };

function color(label) { return COLORS[label] || "#7a8699"; }
function headers() { return page.key ? { "X-API-Key": page.key } : {}; }
function percent(p) { return `${Math.round(100 * p)}%`; }

function buildBars(box, labels) {
  box.replaceChildren(...labels.map((label) => {
    const row = document.createElement("div");
    row.className = "bar";
    row.dataset.label = label;
    row.innerHTML = `<span class="bar-name"></span><span class="bar-track"><span class="bar-fill"></span></span>` +
      `<span class="bar-value">0%</span>`;
    row.querySelector(".bar-name").textContent = label;
    row.querySelector(".bar-fill").style.background = color(label);
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

function segmentItem(seg) {
  const li = document.createElement("li");
  li.className = "segment";
  li.dataset.label = seg.label;
  li.innerHTML = `<span class="dot"></span><span class="seg-label"></span><span class="seg-time"></span>`;
  li.querySelector(".dot").style.background = color(seg.label);
  li.querySelector(".seg-label").textContent = seg.label;
  li.querySelector(".seg-time").textContent =
    `${seg.start_s.toFixed(1)}–${seg.end_s.toFixed(1)} s · ${percent(seg.probabilities[seg.label] || 0)}`;
  return li;
}

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
  buildBars($("live-bars"), info.labels);
  buildBars($("file-bars"), info.labels);
}

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
  const live = { media, context, node, ws, ready: false };
  page.live = live;
  ws.onopen = () => ws.send(JSON.stringify({ rate: context.sampleRate, format: "s16", api_key: page.key || undefined }));
  ws.onmessage = (message) => onEvent(JSON.parse(message.data));
  ws.onclose = (close) => { if (page.live === live) stop(close.code === 1000 ? "" : close.reason || "connection closed"); };
  node.port.onmessage = (message) => {
    $("level").style.width = `${Math.min(100, 300 * message.data.rms)}%`;
    if (live.ready && ws.readyState === WebSocket.OPEN) ws.send(message.data.pcm);
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
      if (event.type === "segment") onEvent(event);
      if (event.type === "done") live.ws.close();
    };
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
  } else if (event.type === "error") {
    stop(event.message);
  }
}

function addSegment(seg) {
  page.segments += 1;
  const block = document.createElement("div");
  block.className = "block";
  block.style.left = `${seg.start_s * 40}px`;
  block.style.width = `${Math.max(6, (seg.end_s - seg.start_s) * 40)}px`;
  block.style.background = color(seg.label);
  block.title = `${seg.label} ${seg.start_s.toFixed(1)}–${seg.end_s.toFixed(1)} s`;
  block.textContent = seg.end_s - seg.start_s > 0.8 ? seg.label : "";
  const track = $("track");
  track.appendChild(block);
  track.style.width = `${Math.max(track.parentElement.clientWidth, seg.end_s * 40 + 40)}px`;
  track.parentElement.scrollLeft = track.scrollWidth;
  $("segments").prepend(segmentItem(seg));
}

async function upload(file) {
  $("file-error").hidden = true;
  $("file-result").hidden = true;
  $("drop").classList.add("busy");
  try {
    const form = new FormData();
    form.append("file", file, file.name);
    const response = await fetch("/v1/predict", { method: "POST", body: form, headers: headers() });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
    $("file-name").textContent = `${body.name} · ${body.duration_s.toFixed(1)} s`;
    $("file-label").textContent = body.label;
    $("file-label").style.background = color(body.label);
    setBars($("file-bars"), body.probabilities);
    $("file-segments").replaceChildren(...(body.kind === "whole" ? [] : body.predictions).map(segmentItem));
    $("file-result").hidden = false;
  } catch (error) {
    $("file-error").textContent = error.message;
    $("file-error").hidden = false;
  } finally {
    $("drop").classList.remove("busy");
  }
}

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
  $("key-save").addEventListener("click", () => {
    page.key = $("api-key").value.trim();
    localStorage.setItem("emovox-key", page.key);
    loadModel();
  });
  loadModel().catch((error) => { $("model").textContent = `model unavailable: ${error.message}`; });
}

wire();
