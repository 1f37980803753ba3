// wac dashboard: managed targets. Reads /api/targets; writes (PUT, PATCH, DELETE) with
// the admin token the user types in (kept in this tab's sessionStorage only, sent as a
// bearer token: a browser never sends it on its own). Every value goes into the DOM as
// text. An error naming a field is shown beside that field.
"use strict";

const TOKEN_KEY = "wac-admin-token";
let editing = null; // the target being edited (as the API shows it), or null: adding

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function adminHeaders() {
  const token = $("admin-token").value.trim();
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

function clearErrors() {
  for (const span of document.querySelectorAll(".field-error")) span.textContent = "";
  $("form-error").hidden = true;
  $("error").hidden = true;
}

function showError(body, status) {
  const message = (body && body.error) || `HTTP ${status}`;
  const spot = body && body.field && document.querySelector(`.field-error[data-for="${CSS.escape(body.field)}"]`);
  if (spot) { spot.textContent = message; return; }
  $("form-error").textContent = message;
  $("form-error").hidden = false;
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method, headers: adminHeaders(), body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = { error: text }; }
  return { ok: response.ok, status: response.status, body: parsed };
}

function path(id) { return `/api/targets/${encodeURIComponent(id)}`; }

async function load() {
  const targets = [];
  let cursor = null;
  do {  // every page (1000 targets each)
    const query = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const response = await fetch(`/api/targets?limit=1000${query}`);
    if (!response.ok) {
      $("error").textContent = `cannot load the targets: HTTP ${response.status}`;
      $("error").hidden = false;
      return;
    }
    const page = await response.json();
    targets.push(...page.targets);
    cursor = page.next_cursor;
  } while (cursor !== null);
  const body = $("managed").querySelector("tbody");
  body.replaceChildren();
  $("none").hidden = targets.length > 0;
  for (const t of targets) {
    const actions = el("td", {},
      el("button", { type: "button", class: "edit", text: "Edit" }),
      el("button", { type: "button", class: "toggle", text: t.paused ? "Resume" : "Pause" }),
      el("button", { type: "button", class: "delete", text: "Delete" }));
    const row = el("tr", { "data-id": t.id },
      el("td", { text: t.id }), el("td", { class: "state", text: t.paused ? "paused" : "active" }),
      el("td", { class: "num", text: `${t.interval} s` }), el("td", { text: t.url }), actions);
    actions.querySelector(".edit").addEventListener("click", () => edit(t));
    actions.querySelector(".toggle").addEventListener("click", () => write("PATCH", t.id, { paused: !t.paused }));
    actions.querySelector(".delete").addEventListener("click", () => write("DELETE", t.id));
    body.append(row);
  }
}

function edit(target) {
  clearErrors();
  editing = target;
  $("editor-title").textContent = `Edit ${target.id}`;
  $("f-id").value = target.id;
  $("f-id").readOnly = true;
  $("f-url").value = target.url;
  $("f-interval").value = target.interval;
  $("f-timeout").value = target.timeout;
  $("f-pattern").value = target.pattern || "";
  $("f-expect").value = (target.expect_status || []).join(", ");
}

function reset() {
  clearErrors();
  editing = null;
  $("editor").reset();
  $("f-id").readOnly = false;
  $("editor-title").textContent = "Add a target";
}

function formBody() {
  const body = editing ? { ...editing } : {};
  delete body.id;
  body.url = $("f-url").value.trim();
  for (const [key, input] of [["interval", "f-interval"], ["timeout", "f-timeout"]]) {
    const value = $(input).value.trim();
    if (value) body[key] = /^[0-9.]+$/.test(value) ? Number(value) : value; else delete body[key];
  }
  body.pattern = $("f-pattern").value || null;
  const expect = $("f-expect").value.trim();
  body.expect_status = expect ? expect.split(/[ ,]+/).filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : s)) : null;
  return body;
}

async function write(method, id, body) {
  clearErrors();
  const answer = await call(method, path(id), body);
  if (!answer.ok) { showError(answer.body, answer.status); return false; }
  await load();
  return true;
}

$("admin-token").value = sessionStorage.getItem(TOKEN_KEY) || "";
$("admin-token").addEventListener("change", () => sessionStorage.setItem(TOKEN_KEY, $("admin-token").value.trim()));
$("clear").addEventListener("click", reset);
$("editor").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = $("f-id").value.trim();
  if (!id) { clearErrors(); showError({ error: "give the target a name", field: "name" }); return; }
  if (await write("PUT", id, formBody())) reset();
});
load();
