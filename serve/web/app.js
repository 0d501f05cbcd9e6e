"use strict";
// The page shows what /events sends each second; it fetches nothing else
// but the flame graphs, from the same server.
const status = document.getElementById("status");
const root = document.getElementById("scripts");
const events = new EventSource("events");
events.addEventListener("state", (ev) => {
  render(JSON.parse(ev.data));
  status.textContent = "live";
});
events.onerror = () => { status.textContent = "disconnected; retrying"; };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, attrs || {});
  for (const c of children) e.append(c);
  return e;
}

function render(state) {
  root.replaceChildren(...(state.scripts || []).map(script));
}

function script(s) {
  const sec = el("section", {id: "script-" + s.name}, el("h2", {}, s.path));
  for (const m of s.maps || []) sec.append(mapTable(s, m));
  return sec;
}

function mapTable(s, m) {
  const t = el("table", {className: "map", id: "map-" + s.name + "-" + m.name.slice(1)});
  t.append(el("caption", {}, m.name));
  for (const e of m.entries || []) {
    t.append(el("tr", {}, el("td", {}, e.key.join(", ")), el("td", {className: "num"}, e.text || String(e.value))));
  }
  return t;
}
