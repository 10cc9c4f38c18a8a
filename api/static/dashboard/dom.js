// DOM helpers shared by the views: building elements, re-rendering without losing focus,
// formatting, the toast, and `view`, which gives each page a signal aborted when it is left.

import { blob } from "./api.js";

export const FINAL = ["succeeded", "failed", "cancelled"];
export const main = document.getElementById("main");
let current = new AbortController(); // aborted when the view changes: streams, timers

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// Re-render `container` without losing the keyboard focus: the element that had it is found
// again by its position among the container's focusable elements.
const FOCUSABLE = "a[href], button, input, select, summary, [tabindex]";
export function rerender(container, ...children) {
  const active = document.activeElement;
  const index = active && container.contains(active) ? [...container.querySelectorAll(FOCUSABLE)].indexOf(active) : -1;
  container.replaceChildren(...children);
  if (index >= 0) container.querySelectorAll(FOCUSABLE)[index]?.focus({ preventScroll: true });
}

export const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
export const when = (t) => (t ? new Date(t).toLocaleString() : "–");
export const shortId = (id) => String(id).slice(0, 8);

export function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function toast(text, kind = "info") {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.className = `toast ${kind}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.className = "toast"; box.textContent = ""; }, 5000);
}

export function view(title, ...children) {
  current.abort();
  current = new AbortController();
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...children);
  heading.focus({ preventScroll: true });
  document.title = `${title} · enas-service`;
  return current.signal;
}

export function errorBox(err) {
  return h("p", { class: "error", role: "alert" }, err instanceof Error ? err.message : String(err));
}

export async function inlineSvg(path, signal) {
  const response = await blob(path, { signal });
  const doc = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
  const svg = document.importNode(doc.documentElement, true);
  // Scaled down to its box by its viewBox (the cells are drawn one above the other, so a
  // laptop's width shows them near their own size), never up beyond it.
  svg.style.maxWidth = `${Number(svg.getAttribute("width"))}px`;
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  svg.classList.add("diagram");
  return svg;
}

export async function download(path, filename) {
  try {
    const response = await blob(path);
    const url = URL.createObjectURL(await response.blob());
    const a = h("a", { href: url, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    toast(err.message, "error");
  }
}

export function saveJson(data, filename) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function section(title, id, ...children) {
  return h("section", { class: "card", id, "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, title), ...children);
}
