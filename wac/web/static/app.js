// wac dashboard: fetches the JSON API and draws the pages (no external asset).
// Values reach the DOM through el() and visible() of dom.js, loaded before this script.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const PHASES = ["resolve", "connect", "tls", "processing", "transfer"];
const PHASE_COLORS = {
  resolve: "#8ecae6", connect: "#219ebc", tls: "#7b5ea7", processing: "#f4a261", transfer: "#2a9d8f",
};

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function fmtTime(iso, withDate = true) {
  if (!iso) return "–";
  const d = new Date(iso);
  const t = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return withDate ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${t}` : t;
}

function fmtMs(v) {
  if (v === null || v === undefined) return "–";
  if (v === 0) return "0";
  if (v < 1) return `${Number((v * 1000).toPrecision(2))} µs`;  // an ICMP round trip on a LAN
  if (v < 10) return `${v.toFixed(1)} ms`;
  if (v < 1000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(2)} s`;
}

function fmtPct(v) {
  if (v === null || v === undefined) return "–";
  return `${v.toFixed(v === 100 ? 0 : 2)}%`;
}

function pctClass(v) {
  if (v === null || v === undefined) return "muted";
  return v >= 99.9 ? "good" : v >= 99 ? "warn" : "bad";
}

function fmtDuration(s) {
  const two = (a, ua, b, ub) => (b ? `${a} ${ua} ${b} ${ub}` : `${a} ${ua}`);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return two(Math.floor(s / 60), "min", Math.round(s % 60), "s");
  if (s < 86400) return two(Math.floor(s / 3600), "h", Math.round((s % 3600) / 60), "min");
  return two(Math.floor(s / 86400), "d", Math.round((s % 86400) / 3600), "h");
}

function fmtDays(v) {
  if (v === null || v === undefined) return "–";
  return `${Math.floor(v)} days`;
}

function badge(status) {
  const label = status === "up" ? "UP" : status === "down" ? "DOWN" : "N/A";
  return el("span", { class: `badge ${status || "none"}`, text: label });
}

// The small label naming a target's probe (http, tcp, tls, dns, icmp, push).
function probeLabel(probe) {
  return probe ? el("span", { class: "probe", "data-probe": probe, text: probe }) : "";
}

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new Error(`${response.status} ${(await response.text()).trim()}`);
  return response.json();
}

function showError(err) {
  const node = document.getElementById("error");
  node.textContent = err ? `Could not refresh: ${err.message}` : "";
  node.hidden = !err;
}

function schedule(fn, seconds) {
  setTimeout(async () => { await fn(); }, (seconds || 15) * 1000);
}

// ------------------------------------------------------------------ overview
// Search, status filter, sort and page are the API's (server-side: /api/overview?q=&
// status=&sort=&order=&page=&limit=); the page keeps them in its own URL, so a reload or
// a shared link shows the same view.

const OVERVIEW_KEYS = ["q", "status", "sort", "order", "page", "limit"];
const overviewState = (() => {
  const params = new URLSearchParams(location.search);
  const state = {};
  for (const k of OVERVIEW_KEYS) if (params.get(k)) state[k] = params.get(k);
  return state;
})();
let overviewTimer = null;
let overviewSeq = 0;

function overviewQuery() {
  const params = new URLSearchParams();
  for (const k of OVERVIEW_KEYS) if (overviewState[k]) params.set(k, overviewState[k]);
  return params.toString();
}

function setOverview(changes) {
  Object.assign(overviewState, changes);
  for (const k of OVERVIEW_KEYS) if (!overviewState[k]) delete overviewState[k];
  const query = overviewQuery();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
  overview();
}

function drawOverviewControls(data) {
  const q = data.query;
  const search = document.getElementById("search");
  if (document.activeElement !== search) search.value = q.q;
  const chosen = q.status.length === 1 ? q.status[0] : "";
  for (const b of document.querySelectorAll("#filters button")) {
    const s = b.dataset.status;
    const n = s ? data.counts[s] : data.counts.up + data.counts.down + data.counts.unknown;
    b.textContent = `${b.dataset.label} ${n}`;
    b.classList.toggle("active", s === chosen);
    b.setAttribute("aria-pressed", String(s === chosen));
  }
  for (const th of document.querySelectorAll("#targets th[data-sort]")) {
    const active = th.dataset.sort === q.sort;
    th.classList.toggle("sorted", active);
    th.setAttribute("aria-sort", active ? (q.order === "desc" ? "descending" : "ascending") : "none");
    th.querySelector(".arrow").textContent = active ? (q.order === "desc" ? " ▼" : " ▲") : "";
  }
  const first = data.total ? (q.page - 1) * q.limit + 1 : 0;
  const last = Math.min(data.total, q.page * q.limit);
  document.getElementById("page-info").textContent =
    `${first}-${last} of ${data.total} · page ${q.page} of ${data.pages}`;
  document.getElementById("prev").disabled = q.page <= 1;
  document.getElementById("next").disabled = q.page >= data.pages;
}

function bindOverviewControls() {
  const search = document.getElementById("search");
  let typing = null;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => setOverview({ q: search.value.trim(), page: "" }), 250);
  });
  for (const b of document.querySelectorAll("#filters button")) {
    b.addEventListener("click", () => setOverview({ status: b.dataset.status, page: "" }));
  }
  for (const th of document.querySelectorAll("#targets th[data-sort]")) {
    th.append(el("span", { class: "arrow" }));
    th.addEventListener("click", () => {
      const sort = th.dataset.sort;
      const current = overviewState.sort || "status";
      const order = current === sort && (overviewState.order || "asc") === "asc" ? "desc" : "asc";
      setOverview({ sort, order, page: "" });
    });
  }
  const step = (d) => setOverview({ page: String(Math.max(1, Number(overviewState.page || 1) + d)) });
  document.getElementById("prev").addEventListener("click", () => step(-1));
  document.getElementById("next").addEventListener("click", () => step(1));
}

async function overview() {
  clearTimeout(overviewTimer);
  const seq = ++overviewSeq;
  let data;
  try {
    const query = overviewQuery();
    data = await getJSON(`/api/overview${query ? `?${query}` : ""}`);
    if (seq !== overviewSeq) return; // a newer request was made meanwhile
    showError(null);
  } catch (err) {
    if (seq !== overviewSeq) return;
    showError(err);
    overviewTimer = setTimeout(overview, 15000);
    return;
  }
  const fleet = data.counts.up + data.counts.down + data.counts.unknown;
  const summary = document.getElementById("summary");
  summary.replaceChildren(
    el("div", { class: "pill" }, el("b", { text: fleet }), "targets"),
    el("div", { class: "pill up" }, el("b", { text: data.counts.up }), "up"),
    el("div", { class: "pill down" }, el("b", { text: data.counts.down }), "down"),
  );
  drawOverviewControls(data);
  const body = document.querySelector("#targets tbody");
  body.replaceChildren(...data.targets.map((t) => {
    const link = el("a", { href: `/target?name=${encodeURIComponent(t.target)}`, class: "target-name clip", text: t.target, title: t.target });
    const err = t.status === "down" && t.last_error ? `${t.last_error.kind}: ${t.last_error.message}` : "";
    const cert = t.cert_days_left;
    return el("tr", { "data-target": t.target, "data-status": t.status || "none" },
      el("td", {}, badge(t.status)),
      el("td", {}, link, el("span", { class: "muted url", title: t.url || "" }, probeLabel(t.probe), t.url || "")),
      el("td", { class: "muted nowrap", text: fmtTime(t.since) }),
      ...["24h", "7d", "30d"].map((w) => el("td", { class: `num ${pctClass(t.uptime[w])}`, "data-window": w, text: fmtPct(t.uptime[w]) })),
      el("td", { class: "num", text: fmtMs(t.last_response_time_ms) }),
      el("td", { class: "num", text: fmtMs(t.p95_24h_ms) }),
      el("td", { class: `num ${cert !== null && cert < 14 ? "bad" : ""}`, text: fmtDays(cert) }),
      el("td", { class: "err" }, el("span", { class: "clip", title: err, text: err })),
    );
  }));
  const empty = document.getElementById("empty");
  empty.textContent = fleet === 0 ? "No checks stored yet." : "No target matches.";
  empty.hidden = data.targets.length > 0;
  document.getElementById("updated").textContent = `updated ${fmtTime(data.generated_at, false)} UTC`;
  overviewTimer = setTimeout(overview, (data.refresh_s || 15) * 1000);
}

// -------------------------------------------------------------------- target

let currentRange = new URLSearchParams(location.search).get("range") || "24h";
let refreshTimer = null;

function tile(label, value, cls) {
  return el("div", { class: "tile" }, el("div", { class: "label", text: label }), el("div", { class: `value ${cls || ""}`, text: value }));
}

async function targetPage() {
  const name = new URLSearchParams(location.search).get("name");
  if (!name) { showError(new Error("no target given")); return; }
  clearTimeout(refreshTimer);
  let data;
  try {
    data = await getJSON(`/api/target?name=${encodeURIComponent(name)}&range=${encodeURIComponent(currentRange)}`);
    showError(null);
  } catch (err) {
    showError(err);
    refreshTimer = setTimeout(targetPage, 15000);
    return;
  }
  document.title = `wac · ${visible(data.target)}`;
  document.getElementById("name").textContent = visible(data.target);
  const url = document.getElementById("url");
  url.textContent = visible(data.url || "");
  url.setAttribute("href", data.url || "#");
  url.setAttribute("rel", "noreferrer");
  const since = data.since ? `since ${fmtTime(data.since)} UTC` : "";
  document.getElementById("status").replaceChildren(badge(data.status), el("span", { class: "muted", text: since }));
  const s = data.summary;
  document.getElementById("tiles").replaceChildren(
    tile("Uptime 24 h", fmtPct(data.uptime["24h"]), pctClass(data.uptime["24h"])),
    tile("Uptime 7 d", fmtPct(data.uptime["7d"]), pctClass(data.uptime["7d"])),
    tile("Uptime 30 d", fmtPct(data.uptime["30d"]), pctClass(data.uptime["30d"])),
    tile(`p50 · ${data.range}`, fmtMs(s.response_time_ms.p50)),
    tile(`p95 · ${data.range}`, fmtMs(s.response_time_ms.p95)),
    hasCertificate(data)
      ? tile("Certificate", fmtDays(data.cert_days_left), data.cert_days_left !== null && data.cert_days_left < 14 ? "bad" : "")
      : tile("Probe", probeOf(data)),
  );
  drawProbe(data);
  for (const a of document.querySelectorAll("#ranges a")) a.classList.toggle("active", a.dataset.range === data.range);
  drawChart(document.getElementById("chart"), data);
  drawDays(data.days);
  drawIncidents(data.incidents);
  drawFailureRuns(data.failure_runs);
  drawErrors(data.errors);
  document.getElementById("updated").textContent = `updated ${fmtTime(data.generated_at, false)} UTC`;
  refreshTimer = setTimeout(targetPage, (data.refresh_s || 15) * 1000);
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function drawChart(container, data) {
  const width = container.clientWidth || 900;
  const height = container.clientHeight || 260;
  const m = { l: 56, r: 14, t: 12, b: 26 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const t0 = new Date(data.from).getTime();
  const t1 = new Date(data.to).getTime();
  const stepMs = data.step_s * 1000;
  const phases = shownPhases(data);
  const points = data.series.filter((p) => p.avg_ms !== null).map((p) => ({
    t: new Date(p.t).getTime(), p, stack: phases.reduce((acc, k) => { acc.push((acc.length ? acc[acc.length - 1] : 0) + (p.phases[k] || 0)); return acc; }, []),
  }));
  const line = responseLine(data);
  const tops = points.map((q) => Math.max(q.stack.length ? q.stack[q.stack.length - 1] : 0, line ? q.p.avg_ms : 0));
  const ymax = niceMax(Math.max(0, ...tops));
  const x = (t) => m.l + ((t - t0) / Math.max(1, t1 - t0)) * w;
  const y = (v) => m.t + h - (v / ymax) * h;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "response time by phase" });
  const axis = svg("g", { class: "axis" });
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    axis.append(svg("line", { class: "gridline", x1: m.l, x2: m.l + w, y1: y(v), y2: y(v) }));
    const label = svg("text", { x: m.l - 8, y: y(v) + 4, "text-anchor": "end" });
    label.textContent = fmtMs(v);
    axis.append(label);
  }
  const ticks = 6;
  for (let i = 0; i <= ticks; i++) {
    const t = t0 + ((t1 - t0) * i) / ticks;
    const d = new Date(t);
    const label = svg("text", { x: x(t), y: height - 6, "text-anchor": i === 0 ? "start" : i === ticks ? "end" : "middle" });
    label.textContent = t1 - t0 > 2 * 86400000 ? `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}h` : `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    axis.append(label);
  }
  root.append(axis);
  if (!points.length) {
    const empty = svg("text", { class: "empty", x: m.l + w / 2, y: m.t + h / 2, "text-anchor": "middle" });
    empty.textContent = "no response times in this range";
    root.append(empty);
  }
  // Stacked areas, broken where a bin has no data (more than one step apart).
  const segments = [];
  for (const q of points) {
    const last = segments[segments.length - 1];
    if (last && q.t - last[last.length - 1].t <= stepMs * 1.5) last.push(q); else segments.push([q]);
  }
  phases.forEach((k, idx) => {
    let d = "";
    for (const seg of segments) {
      const pts = seg.length === 1 ? [seg[0], { ...seg[0], t: seg[0].t + stepMs * 0.8 }] : seg;
      const top = pts.map((q) => `${x(q.t).toFixed(1)},${y(q.stack[idx]).toFixed(1)}`);
      const bottom = pts.slice().reverse().map((q) => `${x(q.t).toFixed(1)},${y(idx ? q.stack[idx - 1] : 0).toFixed(1)}`);
      d += `M${top.join("L")}L${bottom.join("L")}Z`;
    }
    if (d) root.append(svg("path", { d, fill: PHASE_COLORS[k], "fill-opacity": "0.9", stroke: "none", "data-phase": k }));
  });
  if (line && segments.length) {
    const d = segments.map((seg) => {
      const pts = seg.length === 1 ? [seg[0], { ...seg[0], t: seg[0].t + stepMs * 0.8 }] : seg;
      return `M${pts.map((q) => `${x(q.t).toFixed(1)},${y(q.p.avg_ms).toFixed(1)}`).join("L")}`;
    }).join("");
    root.append(svg("path", { d, fill: "none", stroke: RESPONSE_COLOR, "stroke-width": "2", "data-series": "response" }));
  }
  // Failures: a red tick on the time axis for every bin with a failed check.
  for (const p of data.series) {
    if (p.failures > 0) {
      const t = new Date(p.t).getTime();
      root.append(svg("rect", { x: x(t), y: m.t + h - 4, width: Math.max(2, (stepMs / Math.max(1, t1 - t0)) * w), height: 4, fill: "#d64545", "data-failures": p.failures }));
    }
  }
  const cursor = svg("line", { class: "cursor", y1: m.t, y2: m.t + h, visibility: "hidden" });
  root.append(cursor);
  container.replaceChildren(root);
  const tip = el("div", { class: "tooltip", hidden: "" });
  container.append(tip);
  root.addEventListener("mousemove", (ev) => {
    if (!points.length) return;
    const rect = root.getBoundingClientRect();
    const px = ((ev.clientX - rect.left) / rect.width) * width;
    const t = t0 + ((px - m.l) / w) * (t1 - t0);
    let best = points[0];
    for (const q of points) if (Math.abs(q.t - t) < Math.abs(best.t - t)) best = q;
    cursor.setAttribute("x1", x(best.t)); cursor.setAttribute("x2", x(best.t)); cursor.setAttribute("visibility", "visible");
    tip.replaceChildren(
      el("div", { text: `${fmtTime(best.p.t)} UTC · ${best.p.checks} checks${best.p.failures ? `, ${best.p.failures} failed` : ""}` }),
      ...phases.slice().reverse().map((k) => el("div", {}, el("span", { class: `sw ${k}` }), `${k} ${fmtMs(best.p.phases[k])}`)),
      el("div", { text: `avg ${fmtMs(best.p.avg_ms)} · p95 ${fmtMs(best.p.p95_ms)}` }),
    );
    tip.hidden = false;
    const left = (x(best.t) / width) * rect.width;
    tip.style.left = `${Math.min(left + 12, rect.width - 190)}px`;
    tip.style.top = "8px";
  });
  root.addEventListener("mouseleave", () => { tip.hidden = true; cursor.setAttribute("visibility", "hidden"); });
  document.getElementById("legend").replaceChildren(...phases.map((k) =>
    el("span", {}, el("span", { class: `sw ${k}` }), k)),
  ...(line ? [el("span", { "data-series": "response" }, el("span", { class: "sw response" }), line)] : []));
}

function drawDays(days) {
  const box = document.getElementById("days");
  box.replaceChildren(...days.map((d) => {
    const cls = d.uptime_pct === null ? "" : d.uptime_pct >= 99.9 ? "up" : d.uptime_pct >= 99 ? "warn" : "down";
    const title = d.uptime_pct === null ? `${d.day}: no checks` : `${d.day}: ${fmtPct(d.uptime_pct)} (${d.checks} checks, ${d.failures} failed)`;
    return el("span", { class: cls, title, "data-day": d.day, "data-uptime": d.uptime_pct === null ? "" : d.uptime_pct });
  }));
  document.getElementById("days-first").textContent = days.length ? days[0].day : "";
  document.getElementById("days-last").textContent = days.length ? "today" : "";
}

function periodCells(p) {
  return [
    el("td", { class: "nowrap", text: fmtTime(p.start) }),
    el("td", { text: p.ongoing ? "ongoing" : fmtTime(p.end), class: p.ongoing ? "bad nowrap" : "nowrap" }),
    el("td", { class: "num", text: fmtDuration(p.duration_s) }),
  ];
}

// Incidents: the down periods wac alert recorded (thresholds, quorum of locations).
function drawIncidents(list) {
  const body = document.querySelector("#incidents tbody");
  body.replaceChildren(...list.map((i) => el("tr", {}, ...periodCells(i), el("td", { text: i.cause }))));
  document.getElementById("no-incidents").hidden = list.length > 0;
}

// Failure runs: stretches of consecutive failed checks, from the stored checks.
function drawFailureRuns(list) {
  const body = document.querySelector("#failure-runs tbody");
  body.replaceChildren(...list.map((r) => el("tr", {}, ...periodCells(r),
    el("td", {}, el("span", { class: "kind", text: r.cause.kind || "?" }), " ", r.cause.message || ""),
  )));
  document.getElementById("no-failure-runs").hidden = list.length > 0;
}

function drawErrors(list) {
  const body = document.querySelector("#errors tbody");
  body.replaceChildren(...list.map((e) => el("tr", {},
    el("td", { class: "nowrap", text: fmtTime(e.checked_at) }),
    el("td", {}, el("span", { class: "kind", text: e.kind || "?" })),
    el("td", { text: `${e.status_code ? `HTTP ${e.status_code} · ` : ""}${e.message || ""}` }),
  )));
  document.getElementById("no-errors").hidden = list.length > 0;
}

function init() {
  const page = document.body.dataset.page;
  if (page === "overview") {
    bindOverviewControls();
    overview();
  }
  if (page === "target") {
    for (const a of document.querySelectorAll("#ranges a")) {
      a.addEventListener("click", () => {
        currentRange = a.dataset.range;
        const params = new URLSearchParams(location.search);
        params.set("range", currentRange);
        history.replaceState(null, "", `?${params}`);
        targetPage();
      });
    }
    targetPage();
  }
}

init();
