// The jobs list (#/jobs), and the widgets of a job the job page uses too.

import { request } from "../api.js";
import { fmt } from "../charts.js";
import { FINAL, errorBox, h, pct, rerender, shortId, toast, view, when } from "../dom.js";

function statusBadge(status) {
  return h("span", { class: `badge ${status}` }, status);
}

// The job's status, marked when its result carries warnings (job.warnings).
export function jobStatus(job) {
  const warnings = job.warnings || [];
  if (!warnings.length) return statusBadge(job.status);
  const text = warnings.map((w) => w.message).join("\n");
  return h("span", { class: "status-warned" }, statusBadge(job.status), " ",
    h("span", { class: "warn-mark", title: text, role: "img", "aria-label": `${warnings.length} warning(s): ${text}` }, "⚠"));
}

// The dataset's name: the built-in's or the upload's ("(deleted)" once the upload is gone).
export const datasetName = (job) => job.dataset_name ?? (job.dataset_id ? shortId(job.dataset_id) : job.dataset);

export function progressBar(job) {
  const value = Math.round((job.progress || 0) * 100);
  const label = job.phase ? `${job.phase} ${job.epoch}/${job.epochs}` : job.status;
  return h("div", { class: "progress" },
    h("progress", { max: 100, value, "aria-label": `progress ${value}%` }),
    h("span", { class: "muted" }, `${value}% · ${label}`));
}

export async function jobsView(params) {
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

export function jobActions(job, after) {
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
