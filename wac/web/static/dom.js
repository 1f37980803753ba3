// wac's shared page helpers, loaded before the dashboard's (app.js) and the public status
// page's (status.js) own script. Every value from the API goes into the DOM as text
// (textContent), never as HTML, and through visible(): invisible controls (bidirectional
// overrides such as U+202E, zero-width characters, line separators) are shown as escapes,
// so a name cannot disguise itself. Same rule as wac/safe_text.py for the command line.
"use strict";

const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

function visible(text) {
  return String(text).replace(INVISIBLE, (c) => {
    const code = c.codePointAt(0);
    return code > 0xffff ? `\\U${code.toString(16).padStart(8, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = visible(v);
    else if (k === "title") node.setAttribute(k, visible(v));
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(visible(c)));
  return node;
}

function pad(n) { return String(n).padStart(2, "0"); }
