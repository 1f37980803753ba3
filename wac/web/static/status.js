// wac public status page: fetches /status/SLUG/api and draws it (no external asset).
// Values reach the DOM through el() and visible() of dom.js, loaded before this script.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function fmtTime(iso) {
  const d = new Date(iso);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

function fmtRange(start, end) {
  if (!start) return "";
  if (!end) return `since ${fmtTime(start)}`;
  const a = fmtTime(start);
  const b = fmtTime(end);
  return a.slice(0, 10) === b.slice(0, 10) ? `${a} – ${b.slice(11)}` : `${a} – ${b}`;
}

// Rounded down, so that 99.996 % never reads as 100 % (the badges' rule).
function fmtPct(v) {
  if (v === null || v === undefined) return "no data";
  const floored = Math.floor(v * 100 + 1e-7) / 100;
  return `${floored.toFixed(2).replace(/\.?0+$/, "")}%`;
}

function fmtMs(v) {
  if (v === null || v === undefined) return "–";
  if (v < 1000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(2)} s`;
}

function fmtDuration(s) {
  const min = Math.round(s / 60);
  if (s < 60) return `${Math.round(s)} s`;
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

function uptimeText(pct) {
  return pct === null || pct === undefined ? "No data yet" : `${fmtPct(pct)} uptime`;
}

function dayClass(pct) {
  if (pct === null || pct === undefined) return "";
  return pct >= 99.9 ? "up" : pct >= 99 ? "warn" : pct >= 95 ? "orange" : "down";
}

const STATE_TEXT = { up: "Operational", down: "Down" };

function sparkline(hours) {
  const root = document.createElementNS(SVG_NS, "svg");
  root.setAttribute("class", "spark");
  root.setAttribute("viewBox", "0 0 96 22");
  root.setAttribute("aria-hidden", "true");
  const values = hours.map((h) => h.avg_ms);
  const known = values.filter((v) => v !== null);
  if (known.length < 2) return root;
  const lo = Math.min(...known);
  const hi = Math.max(...known);
  const y = (v) => (hi === lo ? 11 : 20 - ((v - lo) / (hi - lo)) * 18);
  const x = (i) => (i / Math.max(1, values.length - 1)) * 94 + 1;
  let d = "";
  let pen = "M";
  values.forEach((v, i) => {
    if (v === null) { pen = "M"; return; }
    d += `${pen}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = "L";
  });
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", d);
  root.append(path);
  return root;
}

function targetRow(t) {
  const state = t.status || "none";
  const bars = el("div", { class: "bars", role: "img", "aria-label": `uptime per day, last 90 days: ${fmtPct(t.uptime["90d"])}` },
    ...t.days.map((d) => el("span", {
      class: dayClass(d.uptime_pct),
      "data-day": d.day,
      "data-uptime": d.uptime_pct === null ? "" : d.uptime_pct,
      title: d.uptime_pct === null ? `${d.day}: no data` : `${d.day}: ${fmtPct(d.uptime_pct)} up (${d.checks} checks, ${d.failures} failed)`,
    })));
  return el("div", { class: "target", "data-target": t.id, "data-status": state },
    el("div", { class: "target-head" },
      el("span", { class: "target-name", text: t.label, title: t.label }),
      el("span", { class: "response", title: "average response time over the last 24 hours" },
        sparkline(t.hours), el("span", { class: "ms", text: fmtMs(t.avg_24h_ms) })),
      el("span", { class: `state ${state}`, text: STATE_TEXT[t.status] || "No data" })),
    bars,
    el("div", { class: "axis" },
      el("span", {}, el("span", { class: "wide", text: "90 days ago" }), el("span", { class: "narrow", text: "30 days ago" })),
      el("span", { class: "uptime" },
        el("span", { class: "wide", "data-window": "90d", text: uptimeText(t.uptime["90d"]) }),
        el("span", { class: "narrow", "data-window": "30d", text: uptimeText(t.uptime["30d"]) })),
      el("span", { text: "Today" })));
}

function groupCard(g) {
  const down = g.targets.filter((t) => t.status === "down").length;
  const up = g.targets.filter((t) => t.status === "up").length;
  const total = g.targets.length;
  const summary = down ? `${down} of ${total} down` : up === total ? "All operational" : `${up} of ${total} operational`;
  return el("section", { class: "card group", "data-group": g.name },
    el("div", { class: "group-head" }, el("h2", { text: g.name }), el("span", { class: "summary", text: summary })),
    ...g.targets.map(targetRow));
}

function noticeWhen(n) {
  if (n.starts && n.ends) return `${fmtRange(n.starts, n.ends)} UTC`;
  if (n.starts) return `from ${fmtTime(n.starts)} UTC`;
  return `posted ${fmtTime(n.created_at)} UTC`;
}

function noticeCard(n) {
  const upcoming = n.state === "upcoming";
  const tag = upcoming ? `upcoming ${n.kind}` : n.kind === "maintenance" ? "maintenance" : "notice";
  return el("article", { class: `notice ${n.kind}`, "data-state": n.state },
    el("h3", {}, el("span", { class: `tag${upcoming ? " upcoming" : ""}`, text: tag }), n.title),
    el("div", { class: "when", text: noticeWhen(n) }),
    n.body ? el("p", { class: "body", text: n.body }) : "");
}

function incidentItem(i) {
  const what = i.ongoing ? `${i.label} is down` : `${i.label} was down for ${fmtDuration(i.duration_s)}`;
  return el("li", { class: "incident", "data-target": i.target, "data-duration": i.duration_s },
    el("div", { class: "what" }, i.ongoing ? el("span", { class: "tag ongoing", text: "ongoing" }) : "", what),
    el("div", { class: "when", text: `${fmtRange(i.start, i.end)} UTC · ${fmtDuration(i.duration_s)}` }),
    i.cause ? el("div", { class: "cause" }, "Cause: ", el("code", { text: i.cause })) : "");
}

function pastNoticeItem(n) {
  return el("li", { class: "past-notice" },
    el("div", { class: "what" }, el("span", { class: "tag", text: n.kind }), n.title),
    el("div", { class: "when", text: noticeWhen(n) }),
    n.body ? el("div", { class: "cause", text: n.body }) : "");
}

function overall(data) {
  const o = data.overall;
  const total = o.up + o.down + o.unknown;
  const maintenance = data.notices.some((n) => n.kind === "maintenance" && n.state === "current");
  let cls = o.state;
  let text = {
    operational: "All systems operational",
    partial_outage: `Partial outage: ${o.down} of ${total} down`,
    major_outage: "Major outage",
    unknown: "No status yet",
  }[o.state];
  if (maintenance && o.state !== "major_outage" && o.state !== "partial_outage") {
    cls = "maintenance";
    text = "Maintenance in progress";
  }
  const box = document.getElementById("overall");
  box.className = `overall ${cls}`;
  box.dataset.state = o.state;
  document.getElementById("overall-text").textContent = text;
}

function render(data) {
  overall(data);
  // Current notices first (maintenance before announcements), then upcoming ones by start.
  const rank = (n) => (n.state === "current" ? (n.kind === "maintenance" ? 0 : 1) : 2);
  const top = data.notices.filter((n) => n.state !== "past")
    .sort((a, b) => rank(a) - rank(b) || new Date(a.starts || a.created_at) - new Date(b.starts || b.created_at));
  document.getElementById("notices").replaceChildren(...top.map(noticeCard));
  document.getElementById("groups").replaceChildren(...data.groups.map(groupCard));
  const history = [
    ...data.incidents.map((i) => ({ at: i.start, node: incidentItem(i) })),
    ...data.notices.filter((n) => n.state === "past").map((n) => ({ at: n.starts || n.created_at, node: pastNoticeItem(n) })),
  ].sort((a, b) => new Date(b.at) - new Date(a.at));
  document.getElementById("history").replaceChildren(...history.map((h) => h.node));
  document.getElementById("no-history").hidden = history.length > 0;
  document.getElementById("updated").textContent = `Updated ${fmtTime(data.generated_at)} UTC`;
}

function showError(err) {
  const node = document.getElementById("error");
  node.textContent = err ? `Could not refresh: ${err.message}` : "";
  node.hidden = !err;
}

async function load() {
  const slug = document.body.dataset.slug;
  let wait = 30;
  try {
    const response = await fetch(`/status/${encodeURIComponent(slug)}/api`, { credentials: "omit" });
    if (!response.ok) throw new Error(`${response.status} ${(await response.text()).trim()}`);
    const data = await response.json();
    render(data);
    showError(null);
    wait = data.refresh_s || wait;
  } catch (err) {
    showError(err);
  }
  setTimeout(load, wait * 1000);
}

load();
