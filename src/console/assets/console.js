// The fhirgate console: plain JavaScript, no library, no request beyond the bridge itself.
"use strict";

const ADMIN = { "X-Fhirgate-Admin": "1" };
const $ = (id) => document.getElementById(id);

function status(text) {
  $("status").textContent = text;
}

async function getJson(path) {
  const response = await fetch(path, { headers: ADMIN });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  row.appendChild(td);
  return td;
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

function pretty(text) {
  if (text == null) return "(none)";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    // HL7 v2 segments end in CR: show one per line.
    return String(text).replace(/\r\n?/g, "\n");
  }
}

// ---- tabs (arrow keys move between them, as the ARIA tabs pattern says)
const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
function select(tab) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !on;
  }
  tab.focus();
  refresh();
}
tabs.forEach((tab, i) => {
  tab.tabIndex = i === 0 ? 0 : -1;
  tab.addEventListener("click", () => select(tab));
  tab.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight") select(tabs[(i + 1) % tabs.length]);
    if (e.key === "ArrowLeft") select(tabs[(i + tabs.length - 1) % tabs.length]);
  });
});
const current = () => tabs.find((t) => t.getAttribute("aria-selected") === "true").getAttribute("aria-controls");

// ---- overview: /metrics, parsed
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)$/);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const pair of m[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}
const sum = (samples, name, match = () => true) =>
  samples.filter((s) => s.name === name && match(s.labels)).reduce((a, s) => a + s.value, 0);

const history = [];
async function overview() {
  const response = await fetch("/metrics");
  const samples = parseMetrics(await response.text());
  const accepted = sum(samples, "fhirgate_accepted_total");
  const delivered = sum(samples, "fhirgate_delivered_total");
  const latencyCount = sum(samples, "fhirgate_delivery_latency_seconds_count");
  const latency = latencyCount ? (sum(samples, "fhirgate_delivery_latency_seconds_sum") / latencyCount) * 1000 : 0;
  const cards = [
    ["Received", sum(samples, "fhirgate_received_total")],
    ["Accepted", accepted],
    ["Refused", sum(samples, "fhirgate_rejected_total")],
    ["Delivered", delivered],
    ["Dead-lettered", sum(samples, "fhirgate_dead_lettered_total")],
    ["Outbox depth", sum(samples, "fhirgate_outbox_depth")],
    ["Mean delivery latency", `${latency.toFixed(0)} ms`],
  ];
  const box = $("cards");
  box.replaceChildren(
    ...cards.map(([title, n]) => {
      const card = document.createElement("div");
      card.className = "card";
      card.setAttribute("data-metric", title);
      const value = document.createElement("span");
      value.className = "n";
      value.textContent = String(n);
      card.append(value, document.createTextNode(title));
      return card;
    })
  );
  const transports = new Set(samples.filter((s) => s.labels.transport).map((s) => s.labels.transport));
  const body = $("transports").tBodies[0];
  body.replaceChildren();
  for (const t of [...transports].sort()) {
    const row = body.insertRow();
    const by = (s) => s.transport === t;
    cell(row, t);
    cell(row, sum(samples, "fhirgate_received_total", by));
    cell(row, sum(samples, "fhirgate_accepted_total", by));
    cell(row, sum(samples, "fhirgate_rejected_total", by));
  }
  const reasons = $("reasons").tBodies[0];
  reasons.replaceChildren();
  for (const s of samples.filter((s) => s.name === "fhirgate_rejected_total" || s.name === "fhirgate_dead_lettered_total")) {
    const row = reasons.insertRow();
    cell(row, s.name === "fhirgate_rejected_total" ? `refused (${s.labels.transport})` : "dead-lettered");
    cell(row, s.labels.reason);
    cell(row, s.value);
  }
  const last = history[history.length - 1];
  history.push({ accepted, delivered });
  if (history.length > 61) history.shift();
  if (last) chart();
}

function chart() {
  const deltas = [];
  for (let i = 1; i < history.length; i++) {
    deltas.push({
      accepted: history[i].accepted - history[i - 1].accepted,
      delivered: history[i].delivered - history[i - 1].delivered,
    });
  }
  const max = Math.max(1, ...deltas.map((d) => Math.max(d.accepted, d.delivered)));
  const x = (i) => (i / 59) * 600;
  const y = (v) => 150 - (v / max) * 140;
  const line = (key) => deltas.map((d, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(d[key]).toFixed(1)}`).join(" ");
  const svg = $("chart");
  svg.innerHTML = "";
  for (const [key, colour] of [["accepted", "#0969da"], ["delivered", "#1a7f37"]]) {
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", line(key));
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", colour);
    path.setAttribute("stroke-width", "2");
    path.setAttribute("data-series", key);
    svg.appendChild(path);
  }
}

// ---- flow
async function flow() {
  const { recent } = await getJson("/admin/recent");
  const body = $("recent").tBodies[0];
  body.replaceChildren();
  for (const r of recent) {
    const row = body.insertRow();
    cell(row, r.seq);
    cell(row, new Date(r.receivedAt).toLocaleTimeString());
    cell(row, r.adapter);
    cell(row, r.source);
    cell(row, r.resources.map((x) => `${x.type} ×${x.count}`).join(", ") || r.reason || "");
    cell(row, r.fate).className = `fate-${r.fate}`;
    cell(row, "").appendChild(button(`Open ${r.seq}`, () => openRecent(r.seq)));
  }
}

async function openRecent(seq) {
  const r = await getJson(`/admin/recent/${seq}`);
  $("recent-payload").textContent = pretty(r.payload);
  $("recent-bundle").textContent = r.bundle ? pretty(r.bundle) : `(no Bundle: ${r.reason || r.fate})`;
  $("recent-detail").hidden = false;
}

// ---- dead letters
async function deadLetters() {
  const { deadLetters } = await getJson("/admin/dead-letters");
  const body = $("dead-letters").tBodies[0];
  body.replaceChildren();
  for (const d of deadLetters) {
    const row = body.insertRow();
    cell(row, d.id);
    cell(row, new Date(d.failedAt).toLocaleTimeString());
    cell(row, d.adapter);
    cell(row, d.reason);
    const actions = cell(row, "");
    actions.appendChild(button(`Open ${d.id}`, () => openDead(d.id)));
    actions.appendChild(button(`Replay ${d.id}`, () => replay([d.id])));
    if (d.device) {
      actions.appendChild(
        button(`Associate ${d.id}`, () => {
          $("assoc-json").value = JSON.stringify(
            { device: d.device, patient: { system: "urn:oid:2.16.840.1.113883.19.5", value: "" }, from: d.receivedAt },
            null,
            1
          );
          select($("tab-assoc"));
          $("assoc-json").focus();
        })
      );
    }
  }
  $("replay-all").disabled = deadLetters.length === 0;
  $("replay-all").onclick = () => replay(deadLetters.map((d) => d.id));
}

async function openDead(id) {
  const d = await getJson(`/admin/dead-letters/${id}`);
  const payload = d.record && d.record.payload != null ? atobText(d.record.payload) : null;
  $("dead-payload").textContent = pretty(payload);
  $("dead-bundle").textContent = pretty(d.bundle);
  $("dead-outcome").textContent = pretty(d.outcome);
  $("dead-detail").hidden = false;
}

function atobText(base64) {
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return new TextDecoder().decode(bytes);
  } catch (_) {
    return base64;
  }
}

async function replay(ids) {
  let done = 0;
  for (const id of ids) {
    const response = await fetch(`/admin/dead-letters/${id}/replay`, { method: "POST", headers: ADMIN });
    if (response.ok) done++;
    status(`replaying: ${done} of ${ids.length}`);
  }
  status(`replayed ${done} of ${ids.length}`);
  await deadLetters();
}

// ---- associations
async function associations() {
  // Not named `associations`: the buttons below call the function of that name.
  const { associations: list } = await getJson("/admin/associations");
  const body = $("associations").tBodies[0];
  body.replaceChildren();
  for (const { id, association } of list) {
    const row = body.insertRow();
    cell(row, id);
    cell(row, JSON.stringify(association.device));
    cell(row, association.patient ? `${association.patient.system}|${association.patient.value}` : "");
    cell(row, association.from);
    cell(row, association.to);
    const actions = cell(row, "");
    if (!association.to) {
      actions.appendChild(
        button(`End ${id} now`, async () => {
          const response = await fetch(`/admin/associations/${id}/end`, {
            method: "POST",
            headers: { ...ADMIN, "Content-Type": "application/json" },
            body: JSON.stringify({ to: new Date().toISOString() }),
          });
          const answer = await response.json().catch(() => ({}));
          $("assoc-result").textContent = response.ok
            ? ""
            : `${answer.title || response.status}: ${answer.detail || ""}`;
          await associations();
          if (response.ok) status(`association ${id} ended`);
        })
      );
    }
    actions.appendChild(
      button(`Remove ${id}`, async () => {
        await fetch(`/admin/associations/${id}`, { method: "DELETE", headers: ADMIN });
        await associations();
      })
    );
  }
}

$("assoc-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const response = await fetch("/admin/associations", {
    method: "POST",
    headers: { ...ADMIN, "Content-Type": "application/json" },
    body: $("assoc-json").value,
  });
  const answer = await response.json().catch(() => ({}));
  $("assoc-result").textContent = response.ok
    ? ""
    : `${answer.title || response.status}: ${answer.detail || ""}`;
  if (response.ok) status(`association ${answer.id} added; ${answer.replayedDeadLetters} dead letters replayed`);
  await associations();
});

// ---- mappings
async function mappings() {
  const { mappings } = await getJson("/admin/mappings");
  const body = $("mapping-list").tBodies[0];
  body.replaceChildren();
  const select = $("playground-mapping");
  select.replaceChildren(select.options[0]);
  for (const m of mappings) {
    const row = body.insertRow();
    cell(row, m.file);
    cell(row, m.name);
    const check = cell(row, "");
    check.className = m.ok ? "fate-delivered" : "fate-dead-lettered";
    const pre = document.createElement("pre");
    pre.textContent = m.check || (m.ok ? "ok" : "failed");
    check.appendChild(pre);
    const option = document.createElement("option");
    option.value = m.file;
    option.textContent = m.name;
    select.appendChild(option);
  }
}

$("playground").addEventListener("submit", async (e) => {
  e.preventDefault();
  const patient = encodeURIComponent($("playground-patient").value.trim());
  const mapping = encodeURIComponent($("playground-mapping").value);
  const response = await fetch(`/admin/mappings/explain?patient=${patient}&mapping=${mapping}`, {
    method: "POST",
    headers: { ...ADMIN, "Content-Type": "application/json" },
    body: $("playground-payload").value,
  });
  const answer = await response.json();
  $("playground-result").hidden = false;
  $("playground-error").textContent = answer.error || "";
  const trace = [];
  if (answer.mapping) trace.push(`mapping: ${answer.mapping} (${answer.records} records)`);
  for (const step of answer.steps || []) trace.push(step);
  for (const d of answer.dropped || []) trace.push(`left out: record ${d.record} ${d.measurement}: ${d.reason}`);
  for (const [code, n] of Object.entries(answer.unknownCodes || {})) trace.push(`unknown code ${code} ×${n}`);
  $("playground-trace").textContent = trace.join("\n") || "(no trace)";
  $("playground-bundle").textContent = answer.bundle ? pretty(answer.bundle) : "(no Bundle)";
});

// ---- refresh the open view every two seconds; the overview's chart keeps its history meanwhile
async function refresh() {
  try {
    const view = current();
    await overview();
    if (view === "flow") await flow();
    if (view === "dead") await deadLetters();
    if (view === "assoc") await associations();
    if (view === "mappings" && !$("mapping-list").tBodies[0].rows.length) await mappings();
    status(`updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    status(`cannot reach the bridge: ${error.message}`);
  }
}
refresh();
setInterval(() => {
  if (current() !== "mappings") refresh();
  else overview().catch(() => {});
}, 2000);
