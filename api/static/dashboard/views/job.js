// One job (#/jobs/{id}), live: its progress and charts from the event stream, the best
// architecture, and once it has ended the results (top-k, Pareto front, comparison, limits).

import { ApiError, followEvents, request } from "../api.js";
import { fmt, lineChart, scatterChart } from "../charts.js";
import { FINAL, download, duration, errorBox, h, inlineSvg, main, pct, rerender, saveJson, section, shortId, toast, view, when } from "../dom.js";
import { datasetName, jobActions, jobStatus, progressBar } from "./jobs.js";

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
        h("thead", {}, h("tr", {}, ["Candidate", "from", "prior", "val_acc shared", ...rounds.map((e) => `alone, ${e} ep: val / train`)].map((x, i) => h("th", { scope: "col", class: i > 1 ? "num" : null }, x)))),
        h("tbody", {}, report.selection.candidates.map((c, i) => h("tr", { class: c.picked ? "picked" : null },
          h("td", {}, `${i + 1}${c.picked ? " (trained in full)" : ""}`), h("td", {}, c.source || ""),
          h("td", { class: "num" }, c.prior == null ? "–" : `${c.prior >= 0 ? "+" : ""}${c.prior.toFixed(2)}`),
          h("td", { class: "num" }, pct(c.shared_val_acc)),
          ...rounds.map((_, r) => h("td", { class: "num" }, c.alone_val_acc[r] === undefined ? "–"
            : c.alone_train_acc?.[r] === undefined ? pct(c.alone_val_acc[r]) : `${pct(c.alone_val_acc[r])} / ${pct(c.alone_train_acc[r])}`))))))));
    }
  }
  if (job.baseline?.final) {
    parts.push(h("p", {}, `Test accuracy: ${pct(job.final?.test_acc)} for the search's best, ${pct(job.baseline.final.test_acc)} for the best random candidate trained the same way.`));
  }
  return section("Did the search help? Controller against random", "comparison", ...parts);
}

export async function jobView(id) {
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
      arch.replaceChildren(svg, h("p", { class: "mono" }, best.arch.label || ""));
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
    return [h("tr", { dataset: { rank: a.rank } },
      h("td", { class: "num" }, a.rank), h("td", { class: "num" }, pct(a.val_acc)), h("td", { class: "num" }, fmt(a.costs?.params)),
      h("td", { class: "num" }, fmt(a.costs?.flops)), h("td", { class: "num" }, a.costs?.latency_ms != null ? `${fmt(a.costs.latency_ms)} ms` : "–"),
      h("td", {}, a.feasible === false ? h("span", { class: "bad" }, "over a limit") : a.feasible ? "yes" : "–"),
      h("td", { class: "mono" }, a.arch.label || ""), h("td", {}, button)), detail];
  });
  return section(`Top ${archs.length} architectures`, "top", h("div", { class: "table-wrap" }, h("table", { class: "top" },
    h("thead", {}, h("tr", {}, ["Rank", "val_acc", "Params", "FLOPs", "Latency", "Within limits", "Architecture", ""].map((x, i) => h("th", { scope: "col", class: i && i < 5 ? "num" : null }, x)))),
    h("tbody", {}, rows.flat()))));
}

function paretoSection(archs, pareto) {
  if (!pareto && !archs.length) return null;
  // The label tells a space's architectures apart (one the server cannot read has none).
  const key = (a) => a.label ?? JSON.stringify(a);
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
