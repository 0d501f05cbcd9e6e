"use strict";
// The live page of ebtrace serve. It draws the State that /events sends
// each second (serve/page.go) and fetches nothing else but the flame
// graphs, from the same server. A script's and a map's elements outlive
// the updates, so that scroll positions and flame graphs survive them.
// Whatever the page shows it also keeps unformatted in data-* attributes
// (data-key is the key's JSON, data-value the value), for tests and
// scrapers.

const svgNS = "http://www.w3.org/2000/svg";

// heatmapSeconds is how many seconds a heatmap spans: the history the
// server keeps of each histogram (historyLength in serve.go).
const heatmapSeconds = 120;
// flameRefresh is how often, in milliseconds, flame graphs are fetched.
const flameRefresh = 5000;
// histogramsShown is how many keys of one histogram map get a histogram;
// the heatmap sums them all.
const histogramsShown = 12;

const statusEl = document.getElementById("status");
const updatedEl = document.getElementById("updated");
const root = document.getElementById("scripts");
const views = new Map(); // script name -> ScriptView
let updates = 0;

const events = new EventSource("events");
events.addEventListener("state", (ev) => {
  const state = JSON.parse(ev.data);
  render(state);
  updates++;
  document.body.dataset.updates = updates;
  document.body.dataset.time = state.time;
  setStatus("live", "live");
  updatedEl.textContent = "updated " + new Date(state.time).toLocaleTimeString();
});
events.onerror = () => setStatus("down", "disconnected; retrying");

function setStatus(status, text) {
  statusEl.dataset.status = status;
  statusEl.textContent = text;
}

// el makes an HTML element, svg an SVG one: attributes whose value is
// null or undefined are left out, children may be nodes or text.
function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

function svg(tag, attrs, ...children) {
  return build(document.createElementNS(svgNS, tag), attrs, children);
}

function build(e, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) e.setAttribute(name, value);
  }
  e.append(...present(children));
  return e;
}

// present drops the null and undefined children that conditional parts
// leave, which append and replaceChildren would write as text.
function present(children) {
  return children.filter((c) => c !== null && c !== undefined);
}

// fmt writes a number for people: digits grouped, fractions to one place.
function fmt(v) {
  return Number(v).toLocaleString("en-US", {maximumFractionDigits: 1});
}

function plural(n, one, many) {
  return fmt(n) + " " + (n === 1 ? one : many);
}

function render(state) {
  const scripts = state.scripts || [];
  const names = new Set(scripts.map((s) => s.name));
  for (const [name, view] of views) {
    if (!names.has(name)) {
      view.close();
      views.delete(name);
    }
  }
  if (scripts.length === 0) {
    root.replaceChildren(el("p", {class: "empty"}, "No scripts run."));
    return;
  }
  root.querySelectorAll(":scope > p.empty").forEach((p) => p.remove());
  scripts.forEach((s, i) => {
    let view = views.get(s.name);
    if (!view) {
      view = new ScriptView(s.name);
      views.set(s.name, view);
    }
    place(root, view.section, i);
    view.update(s);
  });
}

// place puts child at index i of parent, moving it only when it is not
// there already: a moved element loses its scroll position.
function place(parent, child, i) {
  if (parent.children[i] !== child) parent.insertBefore(child, parent.children[i] || null);
}

// ScriptView is one script's section: what it costs and loses, its maps,
// its flame graph and its printf output.
class ScriptView {
  constructor(name) {
    this.name = name;
    this.title = el("h2");
    this.health = el("div", {class: "health"});
    this.mapsEl = el("div", {class: "maps"});
    this.cards = new Map(); // map name -> MapCard
    this.flame = null;
    this.flameSlot = el("div");
    this.outputHead = el("h3");
    this.output = el("pre", {class: "output", id: "output-" + name});
    // The output follows new lines unless the reader scrolled up to read
    // old ones.
    this.follow = true;
    this.output.addEventListener("scroll", () => {
      const pre = this.output;
      this.follow = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    });
    this.probes = el("div", {class: "scroll"});
    this.section = el("section", {class: "script", id: "script-" + name, "data-script": name},
      this.title, this.health, this.mapsEl, this.flameSlot,
      el("div", {class: "pair"},
        el("div", {class: "card"}, this.outputHead, this.output),
        el("div", {class: "card"}, el("h3", {}, "Probes: the kernel's BPF statistics"), this.probes)));
  }

  update(s) {
    this.title.replaceChildren(s.name, " ", el("small", {}, s.path), " ",
      el("span", {class: "badge " + (s.running ? "ok" : "ended"), "data-stat": "running", "data-value": s.running},
        s.running ? "running" : "ended (exit())"));
    this.updateHealth(s);
    this.updateMaps(s.maps || []);
    this.updateFlame(s.stacks || []);
    this.updateOutput(s.output || [], s.outputTotal);
    this.updateProbes(s.probes || []);
  }

  updateHealth(s) {
    const full = Object.entries(s.mapFull || {}).sort(([a], [b]) => a.localeCompare(b));
    const stat = (name, label, value, attrs) =>
      el("span", {class: "stat" + (value > 0 ? " bad" : ""), "data-stat": name, "data-value": value, ...attrs},
        label, " ", el("b", {}, fmt(value)));
    this.health.replaceChildren(
      stat("lost", "lost events", s.lost),
      stat("helperErrors", "helper errors", s.helperErrors),
      ...(full.length === 0
        ? [el("span", {class: "stat"}, "full maps ", el("b", {}, "none"))]
        : full.map(([m, n]) => stat("mapFull", "updates dropped, " + m + " full:", n, {"data-map": m}))));
  }

  updateMaps(maps) {
    const names = new Set(maps.map((m) => m.name));
    for (const [name, card] of this.cards) {
      if (!names.has(name)) {
        card.el.remove();
        this.cards.delete(name);
      }
    }
    maps.forEach((m, i) => {
      let card = this.cards.get(m.name);
      if (!card || card.kind !== m.kind) {
        if (card) card.el.remove();
        card = new MapCard(this.name, m);
        this.cards.set(m.name, card);
      }
      place(this.mapsEl, card.el, i);
      card.update(m);
    });
  }

  updateFlame(stacks) {
    if (stacks.length === 0) {
      if (this.flame) this.flame.close();
      this.flame = null;
      this.flameSlot.replaceChildren();
      return;
    }
    if (!this.flame) {
      this.flame = new FlameGraph(this.name);
      this.flameSlot.replaceChildren(this.flame.el);
    }
    this.flame.setMaps(stacks);
  }

  updateOutput(lines, total) {
    this.outputHead.textContent = lines.length === total
      ? "printf output: " + plural(total, "line", "lines")
      : "printf output: the last " + fmt(lines.length) + " of " + fmt(total) + " lines";
    const pre = this.output;
    pre.dataset.total = total;
    const text = lines.join("\n");
    if (pre.textContent === text) return;
    pre.textContent = text;
    if (this.follow) pre.scrollTop = pre.scrollHeight;
  }

  updateProbes(probes) {
    if (probes.length === 0) {
      this.probes.replaceChildren(el("p", {class: "empty"}, "No statistics: the kernel keeps none (kernel.bpf_stats_enabled)."));
      return;
    }
    this.probes.replaceChildren(el("table", {class: "probes"},
      el("thead", {}, el("tr", {}, el("th", {}, "probe"), el("th", {class: "num"}, "runs"), el("th", {class: "num"}, "ns/event"))),
      el("tbody", {}, ...probes.map((p) =>
        el("tr", {"data-probe": p.probe, "data-runs": p.runs, "data-ns": p.nsPerEvent},
          el("td", {class: "key"}, p.probe), el("td", {class: "num"}, fmt(p.runs)),
          el("td", {class: "num"}, p.runs > 0 ? fmt(p.nsPerEvent) : "–"))))));
  }

  close() {
    if (this.flame) this.flame.close();
    this.section.remove();
  }
}

// MapCard is one map, drawn as its kind suits.
class MapCard {
  constructor(script, m) {
    this.kind = m.kind;
    this.head = el("h3");
    this.body = el("div", {class: "body"});
    this.heatmap = isHistogram(m.kind) ? new Heatmap() : null;
    this.el = el("article", {class: "card map kind-" + m.kind, "data-map": m.name, "data-kind": m.kind},
      this.head, this.body);
  }

  update(m) {
    const entries = m.entries || [];
    const keyed = (m.keyNames || []).filter(Boolean);
    this.el.dataset.total = m.total;
    this.head.replaceChildren(...present([m.name, " ", el("span", {class: "kind"}, m.kind + (m.counter ? ", counter" : "")),
      keyed.length > 0 ? el("span", {class: "by"}, "by " + keyed.join(", ")) : null,
      el("span", {class: "total"}, entries.length < m.total
        ? "largest " + fmt(entries.length) + " of " + plural(m.total, "key", "keys")
        : plural(m.total, "key", "keys"))]));
    if (this.heatmap) {
      this.body.replaceChildren(histograms(m), this.heatmap.el);
      this.heatmap.draw(m.history || []);
      return;
    }
    if (entries.length === 0) {
      this.body.replaceChildren(el("p", {class: "empty"}, "No entries yet."));
      return;
    }
    const draw = {stats: statsTable, string: textTable, tseries: seriesCharts}[m.kind] || valueTable;
    this.body.replaceChildren(draw(m));
  }
}

function isHistogram(kind) {
  return kind === "hist" || kind === "lhist";
}

// keyHeads are a table's headings for a map's key parts: the names the
// script keys by, or key0, key1, ...
function keyHeads(m) {
  const n = m.entries.length > 0 ? m.entries[0].key.length : 0;
  return Array.from({length: n}, (_, i) => el("th", {}, (m.keyNames || [])[i] || "key" + i));
}

// keyLabel writes a key as name=value pairs.
function keyLabel(m, key) {
  return key.map((part, i) => ((m.keyNames || [])[i] ? m.keyNames[i] + "=" : "") + part).join(", ");
}

function keyCells(key) {
  return key.map((part) => el("td", {class: "key"}, part));
}

// bar is a horizontal bar of frac (0 to 1) of the cell's width.
function bar(frac, negative) {
  return svg("svg", {class: "bar", viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true"},
    svg("rect", {width: (Math.min(1, frac) * 100).toFixed(2), height: 10, class: negative ? "neg" : null}));
}

function table(heads, rows) {
  return el("div", {class: "scroll"},
    el("table", {}, el("thead", {}, el("tr", {}, ...heads)), el("tbody", {}, ...rows)));
}

// single shows the one value of a map without keys.
function single(value, text) {
  return el("div", {class: "single", "data-key": "[]", "data-value": value}, text);
}

// valueTable shows numbers as a table, largest first (as the server sends
// them), each with a bar.
function valueTable(m) {
  const entries = m.entries;
  if (entries.length === 1 && entries[0].key.length === 0) {
    const e = entries[0];
    return single(e.text || e.value, e.text || fmt(e.value));
  }
  const max = Math.max(...entries.map((e) => Math.abs(e.value))) || 1;
  return table([...keyHeads(m), el("th", {class: "num"}, "value"), el("th", {class: "barcell"})],
    entries.map((e) => el("tr", {"data-key": JSON.stringify(e.key), "data-value": e.text || e.value},
      ...keyCells(e.key), el("td", {class: "num"}, e.text || fmt(e.value)),
      el("td", {class: "barcell"}, bar(Math.abs(e.value) / max, e.value < 0)))));
}

function statsTable(m) {
  const max = Math.max(...m.entries.map((e) => e.stats.Count)) || 1;
  return table([...keyHeads(m), el("th", {class: "num"}, "count"), el("th", {class: "num"}, "sum"),
    el("th", {class: "num"}, "avg"), el("th", {class: "barcell"})],
  m.entries.map((e) => el("tr", {
    "data-key": JSON.stringify(e.key), "data-value": e.stats.Count,
    "data-count": e.stats.Count, "data-sum": e.stats.Sum, "data-avg": e.stats.Avg,
  }, ...keyCells(e.key), el("td", {class: "num"}, fmt(e.stats.Count)), el("td", {class: "num"}, fmt(e.stats.Sum)),
  el("td", {class: "num"}, fmt(e.stats.Avg)), el("td", {class: "barcell"}, bar(e.stats.Count / max)))));
}

function textTable(m) {
  if (m.entries.length === 1 && m.entries[0].key.length === 0) return single(m.entries[0].text, m.entries[0].text);
  return table([...keyHeads(m), el("th", {}, "value")],
    m.entries.map((e) => el("tr", {"data-key": JSON.stringify(e.key), "data-value": e.text},
      ...keyCells(e.key), el("td", {class: "text"}, e.text))));
}

// histograms draws a histogram per key, as bpftrace prints one: a row
// per bucket with its label, count and bar.
function histograms(m) {
  const entries = m.entries || [];
  if (entries.length === 0) return el("p", {class: "empty"}, "No values yet.");
  const shown = entries.slice(0, histogramsShown);
  const figures = shown.map((e) => {
    const max = Math.max(...e.buckets.map((b) => b.count)) || 1;
    return el("figure", {class: "hist", "data-key": JSON.stringify(e.key), "data-value": e.value},
      el("figcaption", {}, e.key.length > 0 ? keyLabel(m, e.key) + ": " : "", plural(e.value, "value", "values")),
      el("table", {}, el("tbody", {}, ...e.buckets.map((b) =>
        el("tr", {"data-bucket": b.label, "data-count": b.count},
          el("td", {class: "label"}, b.label), el("td", {class: "num"}, fmt(b.count)),
          el("td", {class: "barcell"}, bar(b.count / max)))))));
  });
  if (entries.length > shown.length) {
    figures.push(el("p", {class: "empty"}, "The other " + fmt(entries.length - shown.length) + " keys are in the heatmap's sums."));
  }
  return el("div", {class: "hists"}, ...figures);
}

// seriesCharts draws each key's time series as a line through its set
// intervals; an unset interval breaks the line.
function seriesCharts(m) {
  const w = 300, h = 60;
  return el("div", {class: "series"}, ...m.entries.map((e) => {
    const ivs = e.intervals || [];
    const set = ivs.filter((iv) => iv.set);
    const fig = el("figure", {class: "tseries", "data-key": JSON.stringify(e.key), "data-points": set.length});
    if (set.length === 0) {
      fig.append(el("figcaption", {}, keyLabel(m, e.key), " no values yet"));
      return fig;
    }
    const last = set[set.length - 1].value;
    fig.dataset.value = last;
    const lo = Math.min(0, ...set.map((iv) => iv.value));
    const hi = Math.max(...set.map((iv) => iv.value));
    const x = (i) => (ivs.length === 1 ? w / 2 : (i / (ivs.length - 1)) * w);
    const y = (v) => h - 4 - ((v - lo) / (hi - lo || 1)) * (h - 8);
    const chart = svg("svg", {class: "spark", viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "none"},
      svg("line", {x1: 0, x2: w, y1: y(0), y2: y(0), class: "zero"}));
    let run = [];
    const flush = () => {
      if (run.length === 1) chart.append(svg("circle", {cx: run[0][0], cy: run[0][1], r: 2.5}));
      if (run.length > 1) chart.append(svg("polyline", {points: run.map((p) => p.join(",")).join(" ")}));
      run = [];
    };
    ivs.forEach((iv, i) => (iv.set ? run.push([x(i).toFixed(1), y(iv.value).toFixed(1)]) : flush()));
    flush();
    fig.append(
      el("figcaption", {}, e.key.length > 0 ? keyLabel(m, e.key) + ": " : "", "last ", el("b", {}, fmt(last)),
        el("span", {class: "range"}, " range " + fmt(lo) + " … " + fmt(hi) + ", " + plural(ivs.length, "interval", "intervals") + " from " +
          new Date(ivs[0].start).toLocaleTimeString())),
      chart);
    return fig;
  }));
}

// Heatmap draws what each second added to a histogram, in the style of
// the kernel's tracex3 sample: time on x (one column a second, the newest
// on the right), buckets on y (the lowest at the bottom), colour the
// count.
class Heatmap {
  constructor() {
    this.canvas = el("canvas", {class: "heatmap"});
    this.caption = el("figcaption");
    this.el = el("figure", {class: "heatmap"}, this.caption, this.canvas);
    this.canvas.addEventListener("mousemove", (ev) => this.hover(ev));
    this.geometry = null;
  }

  draw(rows) {
    const labels = new Map(); // bucket low -> label
    let total = 0, max = 0;
    for (const row of rows) {
      for (const b of row.buckets || []) {
        labels.set(b.low, b.label);
        total += b.count;
        max = Math.max(max, b.count);
      }
    }
    const lows = [...labels.keys()].sort((a, b) => a - b);
    const cols = Math.max(heatmapSeconds, rows.length);
    const shown = rows.slice(-cols);
    Object.assign(this.canvas.dataset, {columns: shown.length, total, max});
    this.caption.replaceChildren("Heatmap: each column one second, all keys summed; colour: values in that second, 1 ",
      el("span", {class: "scale", style: `background: linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(colour).join(", ")})`}),
      " " + fmt(max));

    const ctx = this.canvas.getContext("2d");
    ctx.font = "11px system-ui, sans-serif";
    const labelW = 8 + Math.max(40, ...lows.map((l) => ctx.measureText(labels.get(l)).width));
    const cellH = lows.length > 24 ? 10 : 14;
    const axisH = 18;
    const width = Math.max(300, this.canvas.clientWidth);
    const height = Math.max(1, lows.length) * cellH + axisH;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.style.height = height + "px";
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    ctx.scale(dpr, dpr);
    ctx.font = "11px system-ui, sans-serif";
    const plotW = width - labelW;
    const colW = plotW / cols;
    const plotH = height - axisH;
    ctx.fillStyle = "#f3f4f6";
    ctx.fillRect(labelW, 0, plotW, plotH);

    const first = cols - shown.length; // empty columns on the left
    const rowOf = new Map(lows.map((low, i) => [low, lows.length - 1 - i]));
    shown.forEach((row, j) => {
      for (const b of row.buckets || []) {
        if (b.count === 0) continue;
        ctx.fillStyle = colour(Math.log1p(b.count) / Math.log1p(max));
        ctx.fillRect(labelW + (first + j) * colW, rowOf.get(b.low) * cellH, Math.ceil(colW), cellH - 1);
      }
    });

    ctx.fillStyle = "#333";
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    lows.forEach((low) => ctx.fillText(labels.get(low), labelW - 6, rowOf.get(low) * cellH + cellH / 2));
    if (lows.length === 0) {
      ctx.textAlign = "left";
      ctx.fillText("no values yet", labelW + 6, plotH / 2);
    }
    ctx.textBaseline = "top";
    for (let ago = cols; ago >= 0; ago -= 30) {
      const x = labelW + (cols - ago) * colW;
      ctx.textAlign = ago === cols ? "left" : ago === 0 ? "right" : "center";
      ctx.fillText(ago === 0 ? "now" : "-" + ago + "s", x, plotH + 4);
      ctx.fillRect(x - 0.5, plotH, 1, 3);
    }
    this.geometry = {labelW, colW, cellH, first, shown, lows};
  }

  // hover names the cell under the pointer in the canvas's tooltip.
  hover(ev) {
    const g = this.geometry;
    if (!g) return;
    const r = this.canvas.getBoundingClientRect();
    const j = Math.floor((ev.clientX - r.left - g.labelW) / g.colW) - g.first;
    const i = g.lows.length - 1 - Math.floor((ev.clientY - r.top) / g.cellH);
    const row = g.shown[j];
    if (!row || i < 0 || i >= g.lows.length) {
      this.canvas.title = "";
      return;
    }
    const b = (row.buckets || []).find((b) => b.low === g.lows[i]);
    this.canvas.title = new Date(row.time).toLocaleTimeString() + "  " + (b ? b.label + ": " + fmt(b.count) : "0");
  }
}

// colour maps 0..1 to a ramp from pale yellow through orange and red to
// dark red.
function colour(t) {
  const stops = [[255, 237, 160], [254, 178, 76], [240, 59, 32], [128, 0, 38]];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * f));
  return `rgb(${c.join(",")})`;
}

// FlameGraph shows the server's flame graph of a script's stack maps,
// fetched again every few seconds and swapped in only when it changed.
// It goes into the <object> as a blob, so the swap shows no blank frame
// and the SVG's own search and zoom keep working.
class FlameGraph {
  constructor(script) {
    this.url = "flamegraph.svg?script=" + encodeURIComponent(script);
    this.head = el("h3");
    this.object = el("object", {type: "image/svg+xml", class: "flame", "data-loads": 0});
    this.el = el("div", {class: "card flame-card"}, this.head, this.object);
    this.text = "";
    this.blob = null;
    this.timer = setInterval(() => this.load(), flameRefresh);
    this.load();
  }

  setMaps(names) {
    this.head.textContent = "Flame graph of " + names.join(", ") + " (refreshed every " + flameRefresh / 1000 + " s)";
    this.el.dataset.stacks = names.join(" ");
  }

  async load() {
    let text;
    try {
      const r = await fetch(this.url, {cache: "no-store"});
      if (!r.ok) return;
      text = await r.text();
    } catch {
      return; // the next tick tries again
    }
    if (text === this.text) return;
    this.text = text;
    const size = /<svg[^>]*\swidth="(\d+)"[^>]*\sheight="(\d+)"/.exec(text);
    if (size) this.object.style.aspectRatio = size[1] + " / " + size[2];
    const old = this.blob;
    this.blob = URL.createObjectURL(new Blob([text], {type: "image/svg+xml"}));
    this.object.data = this.blob;
    this.object.dataset.loads = Number(this.object.dataset.loads) + 1;
    if (old) URL.revokeObjectURL(old);
  }

  close() {
    clearInterval(this.timer);
    if (this.blob) URL.revokeObjectURL(this.blob);
  }
}
