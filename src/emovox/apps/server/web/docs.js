// emovox API reference: renders this server's /openapi.json (routes, parameters, bodies, answers, schemas)
// with a try-it form per route. Plain DOM, no library, nothing fetched from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { spec: null, key: localStorage.getItem("emovox-key") || "" };

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// Text with `code` spans (as FastAPI descriptions write them) as DOM nodes.
function rich(tag, className, text) {
  const node = element(tag, className);
  String(text || "").split("`").forEach((part, i) => node.append(i % 2 ? element("code", "", part) : document.createTextNode(part)));
  return node;
}

function refName(ref) { return ref.split("/").pop(); }

function resolve(schema) {
  return schema && schema.$ref ? state.spec.components.schemas[refName(schema.$ref)] || {} : schema || {};
}

// A schema's type, in a few words; references become links to the schema's card.
function typeNode(schema) {
  const box = element("span", "type");
  const add = (part) => box.append(typeof part === "string" ? document.createTextNode(part) : part);
  const walk = (s) => {
    if (!s || Object.keys(s).length === 0) { add("any"); return; }
    if (s.$ref) {
      const link = element("a", "", refName(s.$ref));
      link.href = `#schema-${refName(s.$ref)}`;
      add(link);
      return;
    }
    const options = s.anyOf || s.oneOf;
    if (options) {
      options.forEach((o, i) => { if (i) add(" | "); walk(o); });
      return;
    }
    if (s.type === "array") { add("array of "); walk(s.items); return; }
    if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object") {
      add("object of "); walk(s.additionalProperties); return;
    }
    add(`${s.type || "any"}${s.format ? ` (${s.format})` : ""}`);
    if (s.maxLength) add(`, at most ${s.maxLength} characters`);
  };
  walk(schema);
  return box;
}

function table(heads, rows) {
  const box = element("div", "table-box");
  const t = element("table");
  const head = element("tr");
  heads.forEach((h) => head.append(element("th", "", h)));
  const thead = element("thead");
  thead.append(head);
  const body = element("tbody");
  rows.forEach((cells) => {
    const tr = element("tr");
    cells.forEach((cell) => {
      const td = element("td");
      if (cell instanceof Node) td.append(cell); else td.textContent = cell;
      tr.append(td);
    });
    body.append(tr);
  });
  t.append(thead, body);
  box.append(t);
  return box;
}

function propertiesTable(schema) {
  const s = resolve(schema);
  const required = new Set(s.required || []);
  const rows = Object.entries(s.properties || {}).map(([name, prop]) => {
    const cell = element("span");
    cell.append(element("code", "", name));
    if (required.has(name)) cell.append(element("span", "req", "required"));
    return [cell, typeNode(prop), prop.description || prop.title || ""];
  });
  return rows.length ? table(["field", "type", "description"], rows) : null;
}

function chips(values) {
  const box = element("div", "chips");
  values.forEach((v) => box.append(element("span", "chip", v)));
  return box;
}

function operationCard(path, method, op) {
  const card = element("section", "card");
  card.id = `op-${method}-${path.replace(/[^a-z0-9]+/gi, "-")}`;
  const head = element("div", "op-head");
  head.append(element("span", `method ${method}`, method.toUpperCase()), element("h2", "", path));
  card.append(head, rich("p", "op-summary", op.summary));
  if (op.description && op.description !== op.summary) card.append(rich("p", "hint", op.description));

  if (op.parameters && op.parameters.length) {
    card.append(element("h3", "", "Parameters"));
    card.append(table(["name", "in", "type", "description"], op.parameters.map((p) => {
      const name = element("span");
      name.append(element("code", "", p.name));
      if (p.required) name.append(element("span", "req", "required"));
      return [name, p.in, typeNode(p.schema), p.description || ""];
    })));
  }
  if (op.requestBody) {
    const content = op.requestBody.content || {};
    card.append(element("h3", "", "Request body"));
    if (op.requestBody.description) card.append(element("p", "", op.requestBody.description));
    card.append(chips(Object.keys(content)));
    const form = content["multipart/form-data"];
    if (form) {
      const props = propertiesTable(form.schema);
      if (props) { card.append(element("p", "hint", "multipart/form-data fields:")); card.append(props); }
    }
  }
  card.append(element("h3", "", "Answers"));
  card.append(table(["status", "description", "body"], Object.entries(op.responses || {}).map(([code, answer]) => {
    const content = answer.content || {};
    const type = Object.keys(content)[0];
    const body = element("span");
    if (type) { body.append(element("span", "chip", type), document.createTextNode(" ")); body.append(typeNode(content[type].schema)); }
    return [element("span", "status-code", code), answer.description || "", body];
  })));
  card.append(tryIt(path, method, op));
  return card;
}

// A form that sends the request from this page and shows the answer.
function tryIt(path, method, op) {
  const box = element("div", "try");
  const row = element("div", "try-row");
  const content = (op.requestBody && op.requestBody.content) || {};
  const wantsFile = Boolean(content["multipart/form-data"]);
  let file = null;
  if (wantsFile) {
    file = element("input");
    file.type = "file";
    file.accept = "audio/*,.wav,.flac,.ogg,.opus,.mp3,.m4a,.webm,.aif,.aiff";
    file.setAttribute("aria-label", `file for ${method.toUpperCase()} ${path}`);
    row.append(file);
  }
  const send = element("button", "primary", "Try it");
  send.type = "button";
  const status = element("span", "try-status");
  row.append(send, status);
  const out = element("pre");
  out.hidden = true;
  send.addEventListener("click", async () => {
    const init = { method: method.toUpperCase(), headers: state.key ? { "X-API-Key": state.key } : {} };
    if (wantsFile) {
      if (!file.files[0]) { status.textContent = "choose a file first"; status.className = "try-status bad"; return; }
      const form = new FormData();
      form.append("file", file.files[0], file.files[0].name);
      init.body = form;
    }
    status.textContent = "sending…";
    status.className = "try-status";
    try {
      const began = performance.now();
      const response = await fetch(path, init);
      const text = await response.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON: shown as it is */ }
      status.textContent = `${response.status} ${response.statusText} · ${Math.round(performance.now() - began)} ms`;
      status.className = `try-status ${response.ok ? "ok" : "bad"}`;
      out.textContent = shown;
      out.hidden = false;
    } catch (error) {
      status.textContent = error.message;
      status.className = "try-status bad";
    }
  });
  box.append(row, out);
  return box;
}

function schemaCard(name, schema) {
  const box = element("div");
  box.id = `schema-${name}`;
  box.append(element("h3", "", name));
  if (schema.description) box.append(rich("p", "hint", schema.description));
  const props = propertiesTable(schema);
  if (props) box.append(props); else box.append(typeNode(schema));
  return box;
}

async function render() {
  const response = await fetch("/openapi.json");
  state.spec = await response.json();
  const spec = state.spec;
  $("api-title").textContent = `${spec.info.title} API ${spec.info.version}`;
  $("api-description").replaceWith(Object.assign(rich("p", "lead", spec.info.description), { id: "api-description" }));
  const toc = $("toc");
  const cards = [];
  let needsKey = false;
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const card = operationCard(path, method, op);
      cards.push(card);
      needsKey = needsKey || Boolean(op.responses && op.responses["401"]);
      const link = element("a");
      link.href = `#${card.id}`;
      link.append(element("span", `method ${method}`, method.toUpperCase()), document.createTextNode(path));
      const item = element("li");
      item.append(link);
      toc.append(item);
    }
  }
  const ws = element("li");
  const wsLink = element("a");
  wsLink.href = "#websocket";
  wsLink.append(element("span", "method ws", "WS"), document.createTextNode("/v1/stream"));
  ws.append(wsLink);
  toc.append(ws);
  $("operations").replaceChildren(...cards);
  const schemas = (spec.components && spec.components.schemas) || {};
  $("schema-list").replaceChildren(...Object.entries(schemas).map(([name, schema]) => schemaCard(name, schema)));
  $("key-row").hidden = !needsKey;
  $("api-key").value = state.key;
}

$("key-save").addEventListener("click", () => {
  state.key = $("api-key").value.trim();
  localStorage.setItem("emovox-key", state.key);
});
render().catch((error) => { $("api-description").textContent = `could not load /openapi.json: ${error.message}`; });
