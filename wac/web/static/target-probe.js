// wac dashboard, target page: the target's probe, the phases that probe fills, and what
// its latest check saw (`latest_check.details` of /api/target), drawn per probe.
// Loaded after dom.js and before app.js; its functions run when app.js draws the page
// and use dom.js's and app.js's helpers (el, visible, fmtMs, ...): every value goes into
// the DOM as text, escaped.
"use strict";

// Probes whose checks carry a certificate (tcp too once its latest check spoke TLS).
const CERTIFICATE_PROBES = new Set(["http", "tls"]);

function probeOf(data) { return data.probe || "http"; }

// The phases the page shows for this target (the API says which its probe fills).
function shownPhases(data) { return Array.isArray(data.phases_shown) ? data.phases_shown : PHASES; }

function hasCertificate(data) {
  const details = (data.latest_check && data.latest_check.details) || {};
  return CERTIFICATE_PROBES.has(probeOf(data)) || hasCertificateDays(data) || Boolean(details.tls_version);
}

// A probe whose response time is not the sum of its phases (icmp: the average round
// trip) has that time drawn as a line of its own on the chart, under this label.
const RESPONSE_COLOR = "#d9480f";
function responseLine(data) { return probeOf(data) === "icmp" ? "round trip (avg)" : null; }

function hasCertificateDays(data) { return data.cert_days_left !== null && data.cert_days_left !== undefined; }

function yesNo(v) { return v === true ? "yes" : v === false ? "no" : "–"; }

function fmtNumber(v, unit) { return typeof v === "number" ? `${v}${unit || ""}` : "–"; }

// One section per kind of detail: [label, field it shows, the node or text shown].
function dnsRows(d) {
  const answers = Array.isArray(d.dns_answers) ? d.dns_answers : [];
  const list = answers.length
    ? el("ul", { class: "answers" }, ...answers.map((a) => el("li", { text: a })))
    : el("span", { class: "muted", text: "none" });
  return [
    ["rcode", "dns_rcode", el("span", { class: `rcode ${d.dns_rcode === "NOERROR" ? "good" : "bad"}`, text: d.dns_rcode || "–" })],
    ["answers", "dns_answers", list],
    ["server", "address", d.address || "–"],
    ["transport", "dns_tcp", d.dns_tcp ? "TCP (truncated over UDP)" : "UDP"],
  ];
}

function tlsRows(d, data) {
  let verified = yesNo(d.tls_verified);
  if (d.tls_verified === undefined && d.tls_version) verified = "not checked (verify_tls: false)";
  if (d.tls_verified === false && d.tls_verify_error) verified = `no: ${d.tls_verify_error}`;
  const days = data.cert_days_left;
  return [
    ["TLS version", "tls_version", d.tls_version || "–"],
    ["cipher", "tls_cipher", d.tls_cipher || "–"],
    ["chain verified", "tls_verified", el("span", { class: d.tls_verified === false ? "bad" : "", text: verified })],
    ["host name matched", "tls_host_matched", yesNo(d.tls_host_matched)],
    ["certificate", "cert_days_left", el("span", { class: days !== null && days < 14 ? "bad" : "", text: days === null ? "–" : `${fmtDays(days)} left (expires ${fmtTime(data.tls_expires_at)} UTC)` })],
  ];
}

function icmpRows(d) {
  const rtts = [d.icmp_rtt_min_ms, d.icmp_rtt_avg_ms, d.icmp_rtt_max_ms];
  return [
    ["echo requests", "icmp_sent", `${fmtNumber(d.icmp_sent)} sent · ${fmtNumber(d.icmp_received)} received`],
    ["loss", "icmp_loss_pct", el("span", { class: d.icmp_loss_pct > 0 ? "bad" : "good", text: fmtNumber(d.icmp_loss_pct, "%") })],
    ["round trip min / avg / max", "icmp_rtt", rtts.map(fmtMs).join(" / ")],
    ["host", "address", d.address || "–"],
    ["socket", "icmp_socket", d.icmp_socket || "–"],
  ];
}

function tcpRows(d) {
  const reply = typeof d.tcp_reply === "string"
    ? el("code", { class: "reply", text: d.tcp_reply })
    : el("span", { class: "muted", text: "no reply read" });
  return [
    ["address", "address", d.address || "–"],
    ["reply start", "tcp_reply", reply],
    ["reply bytes read", "tcp_reply_bytes", fmtNumber(d.tcp_reply_bytes)],
  ];
}

function httpRows(d, data) {
  const latest = data.latest_check;
  return [
    ["HTTP version", "http_version", d.http_version || "– (not asked: http_version unset)"],
    ["status code", "status_code", latest && latest.status_code !== null ? String(latest.status_code) : "–"],
  ];
}

function detailRows(data) {
  const latest = data.latest_check;
  const d = (latest && latest.details) || {};
  switch (probeOf(data)) {
    case "dns": return dnsRows(d);
    case "tls": return tlsRows(d, data);
    case "icmp": return icmpRows(d);
    case "tcp": return d.tls_version ? [...tcpRows(d), ...tlsRows(d, data)] : tcpRows(d);
    case "http": return [...httpRows(d, data), ...(hasCertificateDays(data) ? tlsRows(d, data).slice(-1) : [])];
    case "push": return [["last ping", "ping", latest && latest.ok ? `${fmtTime(latest.checked_at)} UTC` : "none in the newest period"]];
    // A probe of a later version: each of its details as it is.
    default: return Object.entries(d).map(([key, v]) => [key, key, Array.isArray(v) ? v.join(", ") : String(v)]);
  }
}

function drawProbe(data) {
  const probe = probeOf(data);
  document.getElementById("probe").textContent = visible(probe);
  const latest = data.latest_check;
  const card = document.getElementById("latest");
  card.dataset.probe = probe;
  const phases = shownPhases(data);
  const phaseBox = document.getElementById("latest-phases");
  phaseBox.replaceChildren(...(phases.length
    ? phases.map((k) => el("span", { class: "phase", "data-phase": k },
      el("span", { class: `sw ${k}` }), el("span", { text: k }), " ",
      el("b", { text: latest ? fmtMs(latest.phases[k]) : "–" })))
    : [el("span", { class: "muted", text: `a ${probe} check has no timed phases` })]));
  const head = document.getElementById("latest-when");
  if (!latest) {
    head.textContent = "no check stored";
    document.getElementById("latest-details").replaceChildren();
    return;
  }
  const outcome = latest.ok ? "up" : `down · ${latest.error ? `${latest.error.kind || "?"}: ${latest.error.message || ""}` : ""}`;
  head.textContent = visible(`${fmtTime(latest.checked_at)} UTC · ${outcome}`);
  head.className = latest.ok ? "muted" : "bad";
  const rows = detailRows(data);
  document.getElementById("latest-details").replaceChildren(...rows.map(([label, key, value]) =>
    el("div", { class: "detail", "data-detail": key }, el("dt", { text: label }), el("dd", {}, value))));
}
