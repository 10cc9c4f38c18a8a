// The enas-service dashboard: jobs, one job live, datasets. Plain ES modules, no build step;
// everything it loads comes from this server (see the page's Content-Security-Policy).

import { ApiError, blob, followEvents, key, request } from "./api.js";
import { fmt, lineChart, scatterChart } from "./charts.js";

const FINAL = ["succeeded", "failed", "cancelled"];
const BUILTIN = ["digits", "mnist", "fashion-mnist", "cifar10"];
const main = document.getElementById("main");
let current = new AbortController(); // aborted when the view changes: streams, timers

// -- DOM helpers ----------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
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
function rerender(container, ...children) {
  const active = document.activeElement;
  const index = active && container.contains(active) ? [...container.querySelectorAll(FOCUSABLE)].indexOf(active) : -1;
  container.replaceChildren(...children);
  if (index >= 0) container.querySelectorAll(FOCUSABLE)[index]?.focus({ preventScroll: true });
}

const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
const when = (t) => (t ? new Date(t).toLocaleString() : "–");
const shortId = (id) => String(id).slice(0, 8);

function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function toast(text, kind = "info") {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.className = `toast ${kind}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.className = "toast"; box.textContent = ""; }, 5000);
}

function statusBadge(status) {
  return h("span", { class: `badge ${status}` }, status);
}

// The job's status, marked when its result carries warnings (job.warnings).
function jobStatus(job) {
  const warnings = job.warnings || [];
  if (!warnings.length) return statusBadge(job.status);
  const text = warnings.map((w) => w.message).join("\n");
  return h("span", { class: "status-warned" }, statusBadge(job.status), " ",
    h("span", { class: "warn-mark", title: text, role: "img", "aria-label": `${warnings.length} warning(s): ${text}` }, "⚠"));
}

// The dataset's name: the built-in's or the upload's ("(deleted)" once the upload is gone).
const datasetName = (job) => job.dataset_name ?? (job.dataset_id ? shortId(job.dataset_id) : job.dataset);

function progressBar(job) {
  const value = Math.round((job.progress || 0) * 100);
  const label = job.phase ? `${job.phase} ${job.epoch}/${job.epochs}` : job.status;
  return h("div", { class: "progress" },
    h("progress", { max: 100, value, "aria-label": `progress ${value}%` }),
    h("span", { class: "muted" }, `${value}% · ${label}`));
}

function view(title, ...children) {
  current.abort();
  current = new AbortController();
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...children);
  heading.focus({ preventScroll: true });
  document.title = `${title} · enas-service`;
  return current.signal;
}

function errorBox(err) {
  return h("p", { class: "error", role: "alert" }, err instanceof Error ? err.message : String(err));
}

async function inlineSvg(path, signal) {
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

async function download(path, filename) {
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

function saveJson(data, filename) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// -- sign in --------------------------------------------------------------------------------

function signIn(message) {
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true,
    placeholder: "enas_...", "aria-describedby": "key-help" });
  const error = h("p", { class: "error", role: "alert" }, message || "");
  const form = h("form", { class: "card narrow", onsubmit: async (e) => {
    e.preventDefault();
    key.set(input.value);
    try {
      await request("/jobs?limit=1");
      route();
    } catch (err) {
      key.clear();
      error.textContent = err.message;
    }
  } },
  h("label", { for: "api-key" }, "API key"),
  input,
  h("p", { id: "key-help", class: "muted" }, "`enas serve` prints one on first start; `enas keys create` makes more. It is kept for this browser tab only."),
  error,
  h("button", { type: "submit" }, "Sign in"));
  view("Sign in", form);
  input.focus();
}

window.addEventListener("enas:unauthorized", () => {
  key.clear();
  signIn("The API key was refused (invalid or revoked).");
});

// -- jobs -----------------------------------------------------------------------------------

async function jobsView(params) {
  const status = params.get("status") || "";
  const filter = h("select", { id: "status-filter", onchange: (e) => {
    location.hash = e.target.value ? `#/jobs?status=${e.target.value}` : "#/jobs";
  } }, ["", "queued", "running", "succeeded", "failed", "cancelled"].map((s) =>
    h("option", { value: s, selected: s === status }, s || "all")));
  const body = h("div", { class: "table-wrap" });
  const signal = view("Jobs",
    h("div", { class: "toolbar" },
      h("label", { for: "status-filter" }, "Status "), filter,
      h("a", { class: "button", href: "#/jobs/new" }, "New job")),
    body);
  const refresh = async () => {
    try {
      const page = await request(`/jobs?limit=100${status ? `&status=${status}` : ""}`, { signal });
      rerender(body, jobsTable(page.data, refresh), h("p", { class: "muted" }, `${page.count} job(s)`));
      return page.data.some((j) => !FINAL.includes(j.status));
    } catch (err) {
      if (!signal.aborted) body.replaceChildren(errorBox(err));
      return false;
    }
  };
  let live = await refresh();
  const timer = setInterval(async () => { if (live || document.visibilityState === "visible") live = await refresh(); }, 3000);
  signal.addEventListener("abort", () => clearInterval(timer));
}

function jobActions(job, after) {
  const out = [];
  if (!FINAL.includes(job.status)) {
    out.push(h("button", { class: "small", onclick: async () => {
      try { await request(`/jobs/${job.id}/cancel`, { method: "POST" }); toast("Cancelling the job"); after(); } catch (err) { toast(err.message, "error"); }
    } }, "Cancel"));
  }
  if (job.status !== "running") {
    out.push(h("button", { class: "small danger", onclick: async () => {
      if (!window.confirm(`Delete job ${job.name || shortId(job.id)} and its files?`)) return;
      try { await request(`/jobs/${job.id}`, { method: "DELETE" }); toast("Deleted"); after(true); } catch (err) { toast(err.message, "error"); }
    } }, "Delete"));
  }
  return out;
}

function jobsTable(jobs, refresh) {
  if (!jobs.length) return h("p", {}, "No jobs yet. ", h("a", { href: "#/jobs/new" }, "Submit one"), ".");
  return h("table", { class: "jobs" },
    h("thead", {}, h("tr", {}, ["Job", "Status", "Progress", "Dataset", "Best val_acc", "Test acc", "Params", "Created", "Finished", ""]
      .map((c, i) => h("th", { scope: "col", class: i >= 4 && i <= 6 ? "num" : null }, c)))),
    h("tbody", {}, jobs.map((j) => h("tr", { dataset: { job: j.id } },
      h("td", {}, h("a", { href: `#/jobs/${j.id}` }, j.name || shortId(j.id))),
      h("td", {}, jobStatus(j)),
      h("td", {}, progressBar(j)),
      h("td", { title: j.dataset_id || null }, datasetName(j)),
      h("td", { class: "num" }, pct(j.best_val_acc)),
      h("td", { class: "num" }, pct(j.final?.test_acc)),
      h("td", { class: "num" }, fmt(j.final?.params)),
      h("td", {}, when(j.created_at)),
      h("td", {}, when(j.finished_at)),
      h("td", { class: "actions" }, jobActions(j, refresh))))));
}

// -- one job --------------------------------------------------------------------------------

function section(title, id, ...children) {
  return h("section", { class: "card", id, "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, title), ...children);
}

function searchCharts(epochs) {
  const search = epochs.filter((e) => e.phase === "search");
  const xy = (f) => search.map((e) => [e.epoch, f(e)]);
  return [
    lineChart("val-acc", "Validation accuracy", [
      { name: "best so far", points: xy((e) => e.best?.val_acc ?? null) },
      { name: "epoch's samples", points: xy((e) => e.val_acc), dashed: true },
    ]),
    lineChart("reward", "Controller reward", [
      { name: "mean reward", points: xy((e) => e.mean_reward) },
      { name: "baseline", points: xy((e) => e.baseline), dashed: true },
    ]),
    lineChart("entropy", "Controller entropy", [{ name: "entropy", points: xy((e) => e.entropy) }]),
    lineChart("shared-loss", "Shared model: training loss", [{ name: "train loss", points: xy((e) => e.train_loss) }]),
    lineChart("shared-acc", "Shared model: training accuracy", [{ name: "train acc", points: xy((e) => e.train_acc) }]),
    lineChart("lr", "Learning rate (shared weights)", [{ name: "lr", points: xy((e) => e.lr) }]),
  ];
}

function finalCharts(epochs) {
  const out = [];
  for (const [phase, label] of [["final", "Final training"], ["baseline", "Random baseline training"]]) {
    const rows = epochs.filter((e) => e.phase === phase);
    if (!rows.length) continue;
    const xy = (f) => rows.map((e) => [e.epoch, f(e)]);
    out.push(lineChart(`${phase}-acc`, `${label}: accuracy`, [
      { name: "train acc", points: xy((e) => e.train_acc) },
      { name: "val acc", points: xy((e) => e.val_acc) },
    ]));
    out.push(lineChart(`${phase}-loss`, `${label}: loss`, [
      { name: "train loss", points: xy((e) => e.train_loss) },
      { name: "val loss", points: xy((e) => e.val_loss) },
    ]));
  }
  return out;
}

function warningBanner(job) {
  const warnings = job.warnings || [];
  if (!warnings.length) return null;
  return h("div", { class: "banner warn", id: "job-warnings", role: "alert" },
    h("strong", {}, job.status === "succeeded" ? "Succeeded, with a warning: do not use this model as it is." : "Warning"),
    h("ul", {}, warnings.map((w) => h("li", { dataset: { code: w.code } }, w.message))));
}

function summaryCards(job) {
  const f = job.final || {};
  const items = [
    ["Best val_acc", pct(job.best_val_acc)],
    ["Test accuracy", pct(f.test_acc)],
    ["Params", fmt(f.params)],
    ["FLOPs", fmt(f.flops)],
    ["Latency", f.latency_ms != null ? `${fmt(f.latency_ms)} ms` : "–"],
    ["ETA", job.eta_seconds != null ? duration(job.eta_seconds) : "–"],
    ["Device time", duration(job.usage?.seconds)],
  ];
  return h("dl", { class: "stats" }, items.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
}

function constraintsSection(job) {
  const checks = job.final?.constraints || [];
  const c = job.constraints;
  if (!checks.length && !c) return null;
  const rows = checks.length ? checks.map((x) => h("tr", {},
    h("td", {}, x.name), h("td", { class: "num" }, fmt(x.limit, 4)), h("td", { class: "num" }, fmt(x.measured, 4)),
    h("td", {}, x.mode || ""), h("td", {}, x.met ? h("span", { class: "ok" }, "met") : h("span", { class: "bad" }, "not met")),
    h("td", { class: "muted" }, x.device ? `${x.device}, batch ${x.batch_size}` : "")))
    : Object.entries(c.limits || {}).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "num" }, fmt(v, 4)),
      h("td", {}, "–"), h("td", {}, c.modes?.[k.replace("max_", "")] || ""), h("td", {}, "–"), h("td", {}, "")));
  return section("Limits and measured costs", "constraints",
    c?.message ? h("p", { class: "bad" }, c.message) : null,
    h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Limit", "Value", "Measured", "Mode", "", "Where"].map((x, i) => h("th", { scope: "col", class: i === 1 || i === 2 ? "num" : null }, x)))),
      h("tbody", {}, rows))));
}

function comparisonSection(job, report) {
  const s = report || job.search_summary;
  if (!s && !job.baseline) return null;
  const parts = [];
  if (s?.summary) parts.push(h("p", { class: "lead" }, s.summary));
  if (report) {
    const groups = [["Controller", report.controller], ["Random", report.random]].filter(([, g]) => g);
    parts.push(h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Candidates", "n", "distinct", "mean val_acc", "std", "best"].map((x, i) => h("th", { scope: "col", class: i ? "num" : null }, x)))),
      h("tbody", {}, groups.map(([name, g]) => h("tr", {}, h("td", {}, name), h("td", { class: "num" }, g.n), h("td", { class: "num" }, g.distinct),
        h("td", { class: "num" }, pct(g.mean)), h("td", { class: "num" }, pct(g.std)), h("td", { class: "num" }, pct(g.best))))))));
    if (report.difference) {
      const d = report.difference;
      parts.push(h("p", {}, `Difference of the means: ${(d.mean * 100).toFixed(1)} points, 95% interval [${(d.ci95[0] * 100).toFixed(1)}, ${(d.ci95[1] * 100).toFixed(1)}] (${d.bootstrap} bootstrap resamples): `, h("strong", {}, report.verdict || "")));
    }
  }
  const sel = s?.selection;
  if (sel) {
    const trust = { high: "ok", some: "", none: "bad", unknown: "" }[sel.trust];
    parts.push(h("p", { id: "selection-trust" }, h("strong", { class: trust || null }, `Can this search's ranking be trusted? ${sel.trust}. `),
      `${sel.summary[0].toUpperCase()}${sel.summary.slice(1)}.`,
      sel.changed_pick ? " The candidates trained alone changed the pick." : " The shared weights' pick held."));
    if (report?.selection) {
      const rounds = report.selection.rounds.map((r) => r.epochs);
      parts.push(h("div", { class: "table-wrap" }, h("table", { id: "selection-table" },
        h("thead", {}, h("tr", {}, ["Candidate", "from", "val_acc shared", ...rounds.map((e) => `alone, ${e} ep`)].map((x, i) => h("th", { scope: "col", class: i > 1 ? "num" : null }, x)))),
        h("tbody", {}, report.selection.candidates.map((c, i) => h("tr", { class: c.picked ? "picked" : null },
          h("td", {}, `${i + 1}${c.picked ? " (trained in full)" : ""}`), h("td", {}, c.source || ""),
          h("td", { class: "num" }, pct(c.shared_val_acc)),
          ...rounds.map((_, r) => h("td", { class: "num" }, c.alone_val_acc[r] === undefined ? "–" : pct(c.alone_val_acc[r])))))))));
    }
  }
  if (job.baseline?.final) {
    parts.push(h("p", {}, `Test accuracy: ${pct(job.final?.test_acc)} for the search's best, ${pct(job.baseline.final.test_acc)} for the best random candidate trained the same way.`));
  }
  return section("Did the search help? Controller against random", "comparison", ...parts);
}

async function jobView(id) {
  const header = h("div", { class: "job-head" });
  const stats = h("div");
  const charts = h("div", { class: "charts", id: "search-charts" });
  const final = h("div", { class: "charts", id: "final-charts" });
  const arch = h("div", { class: "diagram-box", id: "best-arch" }, h("p", { class: "muted" }, "The best architecture appears with the first search epoch."));
  const results = h("div");
  const signal = view("Job",
    header, stats,
    section("Search", "search", charts),
    section("Final training", "final", final),
    section("Best architecture", "architecture", arch),
    results);
  main.querySelector("h1").textContent = `Job ${shortId(id)}`;
  const epochs = [];
  let job = null;
  let drawnBest = null;
  let resultsFor = null;

  const drawHeader = () => {
    main.querySelector("h1").textContent = job.name || `Job ${shortId(id)}`;
    document.title = `${job.name || shortId(id)} · enas-service`;
    rerender(header, ...[
      h("p", { class: "status-line" }, jobStatus(job), " ", h("span", { class: "muted" }, `${job.id} · dataset ${datasetName(job)} · created ${when(job.created_at)}${job.finished_at ? ` · finished ${when(job.finished_at)}` : ""}`)),
      warningBanner(job),
      progressBar(job),
      job.error ? h("p", { class: "error" }, job.error) : null,
      h("div", { class: "toolbar" }, jobActions(job, (gone) => { if (gone) location.hash = "#/jobs"; else refreshJob(); })),
    ].filter(Boolean));
    stats.replaceChildren(summaryCards(job));
  };
  const drawCharts = () => {
    charts.replaceChildren(...searchCharts(epochs));
    const f = finalCharts(epochs);
    final.replaceChildren(...(f.length ? f : [h("p", { class: "muted" }, "Final training starts when the search ends.")]));
  };
  // The card shows what GET /jobs/{id}/architecture answers (the top-k's rank 1 once the
  // search has ended, the best so far before): its text, and its picture by its rank. The
  // epochs only say when to ask again; the last answer asked for is the one drawn.
  let bestAsked = 0;
  const drawBest = async () => {
    const seen = [...epochs].reverse().find((e) => e.best)?.best;
    if (!seen && !FINAL.includes(job?.status)) return;
    const asked = ++bestAsked;
    try {
      const best = await request(`/jobs/${id}/architecture`, { signal });
      const key = `${best.rank}|${best.val_acc}|${JSON.stringify(best.arch)}`;
      if (asked !== bestAsked || key === drawnBest) return;
      const svg = await inlineSvg(`/jobs/${id}/architecture.svg?rank=${best.rank}`, signal);
      if (asked !== bestAsked) return;
      drawnBest = key;
      const a = best.arch;
      arch.replaceChildren(svg, h("p", { class: "mono" }, a.conv_text ? `conv ${a.conv_text} · reduce ${a.reduce_text}` : a.text || ""));
    } catch (err) {
      if (!signal.aborted && !(err instanceof ApiError && err.status === 409)) arch.replaceChildren(errorBox(err));
    }
  };
  const refreshJob = async () => {
    try {
      job = await request(`/jobs/${id}`, { signal });
      drawHeader();
      if (FINAL.includes(job.status) && resultsFor !== job.status) {
        resultsFor = job.status;
        await drawResults();
        await drawBest();
      }
    } catch (err) {
      if (!signal.aborted) header.replaceChildren(errorBox(err));
    }
  };
  const drawResults = async () => {
    const get = (path) => request(path, { signal }).catch((err) => (err instanceof ApiError && err.status === 409 ? null : Promise.reject(err)));
    const [archs, pareto, report] = await Promise.all([
      get(`/jobs/${id}/architectures`), get(`/jobs/${id}/pareto`), get(`/jobs/${id}/search-report`)]);
    results.replaceChildren(...[
      topSection(id, archs?.data || [], signal),
      paretoSection(archs?.data || [], pareto),
      comparisonSection(job, report),
      constraintsSection(job),
      downloadsSection(job, epochs, archs),
      section("Configuration", "config",
        h("details", {}, h("summary", {}, "As submitted"), h("pre", {}, JSON.stringify(job.request, null, 2))),
        h("details", {}, h("summary", {}, "Resolved (what the engine ran)"), h("pre", {}, JSON.stringify(job.config, null, 2))),
        job.usage ? h("details", {}, h("summary", {}, "What it cost"), h("pre", {}, JSON.stringify(job.usage, null, 2))) : null),
    ].filter(Boolean));
  };

  await refreshJob();
  if (!job) return;
  drawCharts();
  const timer = setInterval(() => { if (!FINAL.includes(job.status)) refreshJob(); }, 2000);
  signal.addEventListener("abort", () => clearInterval(timer));
  followEvents(id, {
    signal,
    onEvent: (type, data) => {
      if (type === "epoch") {
        epochs.push(data);
        drawCharts();
        drawBest();
      } else if (type === "status") {
        if (data.status === "deleted") { location.hash = "#/jobs"; return; }
        refreshJob();
      }
    },
  }).catch((err) => { if (!signal.aborted) toast(err.message, "error"); });
}

function topSection(id, archs, signal) {
  if (!archs.length) return null;
  const rows = archs.map((a) => {
    const cell = h("td", { colspan: 8 });
    const detail = h("tr", { class: "detail", hidden: true }, cell);
    const button = h("button", { class: "small", "aria-expanded": "false", onclick: async () => {
      const open = detail.hidden;
      detail.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
      button.textContent = open ? "Hide diagram" : "Diagram";
      if (open && !cell.firstChild) {
        try { cell.append(await inlineSvg(`/jobs/${id}/architecture.svg?rank=${a.rank}`, signal)); } catch (err) { cell.append(errorBox(err)); }
      }
    } }, "Diagram");
    const text = a.arch.conv_text ? `${a.arch.conv_text} | ${a.arch.reduce_text}` : a.arch.text;
    return [h("tr", { dataset: { rank: a.rank } },
      h("td", { class: "num" }, a.rank), h("td", { class: "num" }, pct(a.val_acc)), h("td", { class: "num" }, fmt(a.costs?.params)),
      h("td", { class: "num" }, fmt(a.costs?.flops)), h("td", { class: "num" }, a.costs?.latency_ms != null ? `${fmt(a.costs.latency_ms)} ms` : "–"),
      h("td", {}, a.feasible === false ? h("span", { class: "bad" }, "over a limit") : a.feasible ? "yes" : "–"),
      h("td", { class: "mono" }, text), h("td", {}, button)), detail];
  });
  return section(`Top ${archs.length} architectures`, "top", h("div", { class: "table-wrap" }, h("table", { class: "top" },
    h("thead", {}, h("tr", {}, ["Rank", "val_acc", "Params", "FLOPs", "Latency", "Within limits", "Architecture", ""].map((x, i) => h("th", { scope: "col", class: i && i < 5 ? "num" : null }, x)))),
    h("tbody", {}, rows.flat()))));
}

function paretoSection(archs, pareto) {
  if (!pareto && !archs.length) return null;
  const key = (a) => JSON.stringify(a.conv_text ? [a.conv_text, a.reduce_text] : a.text);
  const front = new Set((pareto?.front || []).map((p) => key(p.arch)));
  const points = new Map();
  for (const a of archs) if (a.costs) points.set(key(a.arch), { ...a.costs, val_acc: a.val_acc, feasible: a.feasible, label: `rank ${a.rank}`, arch: a.arch });
  for (const p of pareto?.front || []) if (!points.has(key(p.arch))) points.set(key(p.arch), { ...p, label: "front" });
  const box = h("div");
  const axis = h("select", { id: "pareto-x" }, h("option", { value: "params" }, "parameters"), h("option", { value: "latency_ms" }, "predicted latency (ms)"));
  const draw = () => {
    const x = axis.value;
    const data = [...points.entries()].filter(([, p]) => p[x] != null && p.val_acc != null)
      .map(([k, p]) => ({ x: p[x], y: p.val_acc, front: front.has(k), feasible: p.feasible, label: p.label }));
    box.replaceChildren(scatterChart("pareto", `val_acc against ${axis.selectedOptions[0].text}`, data,
      { xLabel: x === "params" ? "parameters" : "latency (ms)", yLabel: "val_acc" }));
  };
  axis.addEventListener("change", draw);
  draw();
  return section("Accuracy against cost: the Pareto front", "pareto",
    h("div", { class: "toolbar" }, h("label", { for: "pareto-x" }, "Cost "), axis),
    h("div", { class: "scatter" }, box),
    pareto ? h("p", { class: "muted" }, `${pareto.count} of ${pareto.evaluated} evaluated architectures are on the front (latency on ${pareto.latency_device}, batch ${pareto.latency_batch_size}).`) : null);
}

function downloadsSection(job, epochs, archs) {
  const base = `enas-${shortId(job.id)}`;
  const buttons = [];
  if (job.status === "succeeded" && job.final) {
    for (const [format, file, label] of [["pt", "model.pt", "Model (PyTorch)"], ["torchscript", "model.torchscript.pt", "TorchScript"], ["onnx", "model.onnx", "ONNX"]]) {
      buttons.push(h("button", { onclick: () => download(`/jobs/${job.id}/model?format=${format}`, `${base}-${file}`) }, label));
    }
  }
  buttons.push(h("button", { onclick: () => saveJson({ job, history: epochs, architectures: archs?.data || [] }, `${base}-result.json`) }, "Result JSON"));
  return section("Downloads", "downloads", h("div", { class: "toolbar" }, buttons));
}

// -- submit ---------------------------------------------------------------------------------

const MAIN_FIELDS = ["name", "preset", "search_epochs", "final_epochs", "time_limit", "max_params", "max_latency_ms", "max_flops", "max_memory_mb", "constraint_mode"];

function optionSchema(prop) {
  const variants = prop.anyOf ? prop.anyOf.filter((v) => v.type !== "null") : [prop];
  return { ...variants[0], description: prop.description, title: prop.title };
}

function field(name, prop) {
  const s = optionSchema(prop);
  const id = `f-${name}`;
  let input;
  if (s.enum) {
    input = h("select", { id, name }, h("option", { value: "" }, "(default)"), s.enum.map((v) => h("option", { value: v }, v)));
  } else if (s.type === "boolean") {
    input = h("select", { id, name }, h("option", { value: "" }, "(default)"), h("option", { value: "true" }, "yes"), h("option", { value: "false" }, "no"));
  } else if (s.type === "integer" || s.type === "number") {
    input = h("input", { id, name, type: "number", inputmode: s.type === "integer" ? "numeric" : "decimal",
      step: s.type === "integer" ? 1 : "any", min: s.minimum, max: s.maximum, "data-type": s.type });
  } else {
    input = h("input", { id, name, type: "text", maxlength: s.maxLength });
  }
  input.setAttribute("aria-describedby", `${id}-help ${id}-error`);
  return h("div", { class: "field", dataset: { field: name } },
    h("label", { for: id }, name),
    input,
    h("small", { id: `${id}-help`, class: "muted" }, s.description || ""),
    h("span", { id: `${id}-error`, class: "field-error", role: "alert" }));
}

// An upload as the New job form lists it: two of one file differ in date, size or id.
function datasetLabel(d) {
  return `${d.name} · ${when(d.created_at)} · ${d.num_samples} images, ${fmt(d.size_bytes)}B · ${shortId(d.id)}`;
}

async function submitView() {
  const signal = view("New job", h("p", { class: "muted" }, "Loading the job options…"));
  let schema;
  let datasets = [];
  try {
    const spec = await request("/openapi.json", { signal });
    schema = spec.paths["/jobs"].post.requestBody.content["application/json"].schema;
    datasets = (await request("/datasets?limit=500", { signal })).data;
  } catch (err) {
    main.replaceChildren(main.firstChild, errorBox(err));
    return;
  }
  const props = schema.properties;
  const presetHelp = props.preset.description || "";
  props.preset = { enum: (presetHelp.match(/: (.*)\./)?.[1] || "quick").split(", ").map((p) => p.trim()), description: presetHelp };
  const source = h("select", { id: "f-dataset", name: "dataset", "aria-describedby": "f-dataset-error" },
    h("optgroup", { label: "Built-in" }, BUILTIN.map((d) => h("option", { value: d }, d))),
    datasets.length ? h("optgroup", { label: "Uploaded" }, datasets.map((d) => h("option", { value: d.id }, datasetLabel(d)))) : null,
    h("option", { value: "__upload__" }, "Upload a file…"));
  const file = h("input", { id: "f-file", type: "file", accept: ".npz,.csv,.zip,.gz", "aria-describedby": "f-file-error" });
  const fileField = h("div", { class: "field", hidden: true, dataset: { field: "file" } }, h("label", { for: "f-file" }, "Dataset file"), file,
    h("small", { class: "muted" }, ".npz (x, y), .csv (label, pixels...), or a .zip of class folders or an MNIST-style IDX pair"),
    h("span", { id: "f-file-error", class: "field-error", role: "alert" }));
  source.addEventListener("change", () => { fileField.hidden = source.value !== "__upload__"; });
  const summary = h("p", { class: "error", role: "alert", id: "form-error" });
  const others = Object.keys(props).filter((n) => !MAIN_FIELDS.includes(n) && n !== "dataset");
  const button = h("button", { type: "submit" }, "Submit");
  const form = h("form", { class: "card", novalidate: true, id: "submit-form" },
    h("div", { class: "grid" },
      h("div", { class: "field", dataset: { field: "dataset" } }, h("label", { for: "f-dataset" }, "dataset"), source,
        h("small", { class: "muted" }, "A built-in dataset, one you uploaded, or a file to upload with the job"),
        h("span", { id: "f-dataset-error", class: "field-error", role: "alert" })),
      fileField,
      MAIN_FIELDS.filter((n) => props[n]).map((n) => field(n, props[n]))),
    h("details", {}, h("summary", {}, `More options (${others.length})`),
      h("div", { class: "grid" }, others.map((n) => field(n, props[n])))),
    summary, button);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    summary.textContent = "";
    const config = {};
    for (const el of form.querySelectorAll("[name]")) {
      if (el.name === "dataset" || el.value === "") continue;
      const s = optionSchema(props[el.name] || {});
      if (s.type === "integer" || s.type === "number") config[el.name] = Number(el.value);
      else if (s.type === "boolean") config[el.name] = el.value === "true";
      else config[el.name] = el.value;
    }
    button.disabled = true;
    try {
      let job;
      if (source.value === "__upload__") {
        if (!file.files.length) throw new ApiError(422, { detail: "choose a file to upload", errors: [{ loc: ["form", "file"], msg: "choose a file to upload" }] });
        const body = new FormData();
        body.append("file", file.files[0]);
        body.append("config", JSON.stringify(config));
        job = await request("/jobs", { method: "POST", form: body });
      } else {
        job = await request("/jobs", { method: "POST", json: { dataset: source.value, ...config } });
      }
      toast("Job submitted");
      location.hash = `#/jobs/${job.id}`;
    } catch (err) {
      const fields = err instanceof ApiError ? err.fieldErrors() : {};
      let first = null;
      for (const [name, msg] of Object.entries(fields)) {
        const box = form.querySelector(`#f-${CSS.escape(name)}-error`);
        if (!box) continue;
        box.textContent = msg;
        const input = form.querySelector(`#f-${CSS.escape(name)}`);
        input?.setAttribute("aria-invalid", "true");
        if (input?.closest("details")) input.closest("details").open = true;
        first = first || input;
      }
      summary.textContent = err.message;
      (first || summary).focus?.();
    } finally {
      button.disabled = false;
    }
  });
  main.replaceChildren(main.firstChild, form);
}

// -- datasets -------------------------------------------------------------------------------

async function datasetsView() {
  const list = h("div");
  const file = h("input", { id: "ds-file", type: "file", accept: ".npz,.csv,.zip,.gz", required: true });
  const name = h("input", { id: "ds-name", type: "text", maxlength: 200 });
  const error = h("p", { class: "error", role: "alert" });
  const upload = h("form", { class: "card toolbar", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    if (!file.files.length) { error.textContent = "choose a file"; return; }
    const body = new FormData();
    body.append("file", file.files[0]);
    if (name.value) body.append("name", name.value);
    try { await request("/datasets", { method: "POST", form: body }); toast("Uploaded"); upload.reset(); load(); } catch (err) { error.textContent = err.message; }
  } }, h("label", { for: "ds-file" }, "File "), file, h("label", { for: "ds-name" }, "Name "), name, h("button", { type: "submit" }, "Upload"), error);
  const signal = view("Datasets", upload, list);
  const load = async () => {
    try {
      const page = await request("/datasets?limit=500", { signal });
      if (!page.data.length) { list.replaceChildren(h("p", {}, "No uploaded datasets. The built-in ones (digits, mnist, fashion-mnist, cifar10) need no upload.")); return; }
      list.replaceChildren(...page.data.map((d) => datasetCard(d, load, signal)));
    } catch (err) {
      if (!signal.aborted) list.replaceChildren(errorBox(err));
    }
  };
  load();
}

function datasetCard(d, reload, signal) {
  const img = h("div", { class: "samples" }, h("p", { class: "muted" }, "Loading samples…"));
  blob(`/datasets/${d.id}/samples.png`, { signal }).then(async (r) => {
    const url = URL.createObjectURL(await r.blob());
    img.replaceChildren(h("img", { src: url, alt: `Sample images of ${d.name}, one row per class` }));
  }).catch((err) => { if (!signal.aborted) img.replaceChildren(errorBox(err)); });
  const most = Math.max(...Object.values(d.class_counts));
  return section(d.name, `ds-${d.id}`,
    h("p", { class: "muted" }, `${d.id} · ${d.filename} · ${fmt(d.size_bytes)} bytes · uploaded ${when(d.created_at)}`),
    h("dl", { class: "stats" }, [["Images", d.num_samples], ["Shape", d.image_shape.join(" × ")], ["Classes", d.num_classes]]
      .map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v)))),
    h("div", { class: "two" },
      h("table", { class: "counts" }, h("caption", {}, "Images per class"), h("tbody", {}, Object.entries(d.class_counts).map(([c, n]) =>
        h("tr", {}, h("th", { scope: "row" }, c), h("td", { class: "num" }, n), h("td", { class: "bar" }, h("span", { style: `width:${(100 * n / most).toFixed(1)}%` })))))),
      img),
    h("div", { class: "toolbar" },
      h("a", { class: "button", href: "#/jobs/new" }, "Search on it"),
      h("button", { class: "danger", onclick: async () => {
        if (!window.confirm(`Delete dataset ${d.name}?`)) return;
        try { await request(`/datasets/${d.id}`, { method: "DELETE" }); toast("Deleted"); reload(); } catch (err) { toast(err.message, "error"); }
      } }, "Delete")));
}

// -- routing --------------------------------------------------------------------------------

function route() {
  const [path, query] = (location.hash.slice(1) || "/jobs").split("?");
  const params = new URLSearchParams(query || "");
  if (params.has("key")) {
    // `enas serve` prints a link with the key in the fragment (never sent to the server):
    // keep it for this tab and take it out of the address bar and history.
    key.set(params.get("key"));
    params.delete("key");
    const rest = params.toString();
    history.replaceState(null, "", `#${path}${rest ? `?${rest}` : ""}`);
  }
  for (const a of document.querySelectorAll("nav a")) {
    a.toggleAttribute("aria-current", path.startsWith(a.getAttribute("href").slice(1)) && !(a.getAttribute("href") === "#/jobs" && path === "/jobs/new"));
  }
  document.getElementById("sign-out").hidden = !key.get();
  if (!key.get()) return signIn();
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "datasets") return datasetsView();
  if (parts[0] === "jobs" && parts[1] === "new") return submitView();
  if (parts[0] === "jobs" && parts[1]) return jobView(parts[1]);
  return jobsView(params);
}

document.getElementById("sign-out").addEventListener("click", () => { key.clear(); route(); });
window.addEventListener("hashchange", route);
route();
