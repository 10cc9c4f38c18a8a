// Small SVG charts: lines over epochs and a scatter plot. Every point is a <circle class="pt">
// with a <title> (a tooltip, and what a screen reader or a test reads), the chart a <figure>
// with its caption and legend.

const NS = "http://www.w3.org/2000/svg";
const W = 420;
const H = 200;
const M = { left: 52, right: 12, top: 12, bottom: 34 };
export const COLORS = ["#1f77b4", "#d9822b", "#2e8b57", "#c0392b", "#8e44ad", "#6b6b6b"];

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function ticks(lo, hi, count = 4) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

export function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (Number.isInteger(v)) return String(v);
  return String(+v.toPrecision(digits));
}

function extent(values, pad = 0.05) {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!Number.isFinite(lo)) return [0, 1];
  if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 0.5; hi += Math.abs(hi) * 0.1 || 0.5; }
  const span = hi - lo;
  return [lo - span * pad, hi + span * pad];
}

// Tick labels with as many decimals as their step needs (0.01 steps read 0.12, 0.13, ...).
function tickFormat(values) {
  if (values.length < 2) return (v) => fmt(v, 4);
  const step = Math.abs(values[1] - values[0]);
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return (v) => (Math.abs(v) >= 1e4 ? fmt(v) : v.toFixed(decimals));
}

function frame(svg, [x0, x1], [y0, y1], { xLabel, yLabel, xFormat, yFormat, xInt }) {
  const sx = (x) => M.left + ((x - x0) / (x1 - x0 || 1)) * (W - M.left - M.right);
  const sy = (y) => H - M.bottom - ((y - y0) / (y1 - y0 || 1)) * (H - M.top - M.bottom);
  const axis = el("g", { class: "axis", "font-size": "10", fill: "#555" });
  const yt = ticks(y0, y1);
  yFormat = yFormat || tickFormat(yt);
  for (const t of yt) {
    axis.append(el("line", { x1: M.left, x2: W - M.right, y1: sy(t), y2: sy(t), stroke: "#e6e6e6" }));
    axis.append(el("text", { x: M.left - 6, y: sy(t) + 3, "text-anchor": "end" }, yFormat(t)));
  }
  let xt = ticks(x0, x1, 5);
  if (xInt) xt = xt.filter((t) => Number.isInteger(t));
  xFormat = xFormat || tickFormat(xInt ? [0, 1] : xt);
  for (const t of xt) {
    axis.append(el("text", { x: sx(t), y: H - M.bottom + 14, "text-anchor": "middle" }, xFormat(t)));
  }
  axis.append(el("line", { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, stroke: "#999" }));
  axis.append(el("line", { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, stroke: "#999" }));
  if (xLabel) axis.append(el("text", { x: (M.left + W - M.right) / 2, y: H - 4, "text-anchor": "middle" }, xLabel));
  if (yLabel) {
    axis.append(el("text", { x: 10, y: (M.top + H - M.bottom) / 2, "text-anchor": "middle",
      transform: `rotate(-90 10 ${(M.top + H - M.bottom) / 2})` }, yLabel));
  }
  svg.append(axis);
  return { sx, sy };
}

function figure(id, title, svg, legend) {
  const fig = document.createElement("figure");
  fig.className = "chart";
  fig.dataset.chart = id;
  const cap = document.createElement("figcaption");
  cap.textContent = title;
  fig.append(cap, svg);
  if (legend.length) {
    const ul = document.createElement("ul");
    ul.className = "legend";
    for (const [name, color, cls] of legend) {
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = `swatch ${cls || ""}`;
      sw.style.background = color;
      li.append(sw, document.createTextNode(name));
      ul.append(li);
    }
    fig.append(ul);
  }
  return fig;
}

// series: [{name, points: [[x, y], ...]}]; points with a null y are left out.
export function lineChart(id, title, series, opts = {}) {
  const shown = series.map((s, i) => ({ ...s, color: s.color || COLORS[i % COLORS.length],
    points: s.points.filter(([, y]) => y !== null && y !== undefined) }))
    .filter((s) => s.points.length);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "plot",
    "aria-label": `${title}: ${shown.map((s) => `${s.name}, ${s.points.length} points`).join("; ") || "no data yet"}` });
  const xs = shown.flatMap((s) => s.points.map((p) => p[0]));
  const ys = shown.flatMap((s) => s.points.map((p) => p[1]));
  if (!xs.length) {
    svg.append(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#888", "font-size": "12" }, "no data yet"));
    return figure(id, title, svg, []);
  }
  const xr = [Math.min(...xs, opts.xMin ?? Infinity), Math.max(...xs)];
  if (xr[0] === xr[1]) { xr[0] -= 0.5; xr[1] += 0.5; }
  const { sx, sy } = frame(svg, xr, extent(ys), { xLabel: opts.xLabel ?? "epoch", yLabel: opts.yLabel, xInt: true, yFormat: opts.yFormat });
  for (const s of shown) {
    const g = el("g", { class: "series", "data-series": s.name });
    g.append(el("polyline", { points: s.points.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" "),
      fill: "none", stroke: s.color, "stroke-width": 2, "stroke-dasharray": s.dashed ? "5 4" : "none" }));
    for (const [x, y] of s.points) {
      const c = el("circle", { class: "pt", cx: sx(x), cy: sy(y), r: 3, fill: s.color });
      c.append(el("title", {}, `${s.name}, ${opts.xLabel ?? "epoch"} ${x}: ${fmt(y, 4)}`));
      g.append(c);
    }
    svg.append(g);
  }
  return figure(id, title, svg, shown.map((s) => [s.name, s.color]));
}

// points: [{x, y, label, front, feasible}]: front points filled, infeasible ones as crosses.
export function scatterChart(id, title, points, { xLabel, yLabel }) {
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "plot",
    "aria-label": `${title}: ${points.length} architectures, ${points.filter((p) => p.front).length} on the front` });
  if (!points.length) {
    svg.append(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", fill: "#888", "font-size": "12" }, "no data yet"));
    return figure(id, title, svg, []);
  }
  const { sx, sy } = frame(svg, extent(points.map((p) => p.x)), extent(points.map((p) => p.y)), { xLabel, yLabel });
  // No line through the front: it is a front over val_acc, params and latency, and this is
  // one projection of it.
  for (const p of points) {
    const tip = `${p.label}: ${yLabel} ${fmt(p.y, 4)}, ${xLabel} ${fmt(p.x, 4)}${p.front ? ", on the front" : ""}${p.feasible === false ? ", over a hard limit" : ""}`;
    let mark;
    if (p.feasible === false) {
      const x = sx(p.x); const y = sy(p.y);
      mark = el("path", { class: "pt infeasible", d: `M${x - 4},${y - 4}L${x + 4},${y + 4}M${x - 4},${y + 4}L${x + 4},${y - 4}`,
        stroke: COLORS[3], "stroke-width": 2 });
    } else {
      mark = el("circle", { class: `pt${p.front ? " front" : ""}`, cx: sx(p.x), cy: sy(p.y), r: p.front ? 5 : 3.5,
        fill: p.front ? COLORS[0] : "#fff", stroke: COLORS[0], "stroke-width": 1.5 });
    }
    mark.append(el("title", {}, tip));
    svg.append(mark);
  }
  return figure(id, title, svg, [["on the Pareto front", COLORS[0]], ["evaluated", "#fff", "hollow"],
    ...(points.some((p) => p.feasible === false) ? [["over a hard limit", COLORS[3], "cross"]] : [])]);
}
