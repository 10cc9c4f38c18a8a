// The New job form (#/jobs/new), built from the job request's JSON schema (GET /openapi.json).

import { ApiError, request } from "../api.js";
import { fmt } from "../charts.js";
import { errorBox, h, main, shortId, toast, view, when } from "../dom.js";
import { datasetCatalog, uploadAccept, uploadHelp } from "./datasets.js";

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

export async function submitView() {
  const signal = view("New job", h("p", { class: "muted" }, "Loading the job options…"));
  let schema;
  let datasets;
  let catalog;
  try {
    const [spec, page, known] = await Promise.all([
      request("/openapi.json", { signal }), request("/datasets?limit=500", { signal }), datasetCatalog(signal)]);
    schema = spec.paths["/jobs"].post.requestBody.content["application/json"].schema;
    datasets = page.data;
    catalog = known;
  } catch (err) {
    main.replaceChildren(main.firstChild, errorBox(err));
    return;
  }
  // Every field, `preset` included, from the schema: an enum is a select of its values.
  const props = schema.properties;
  const source = h("select", { id: "f-dataset", name: "dataset", "aria-describedby": "f-dataset-error" },
    h("optgroup", { label: "Built-in" }, catalog.builtin.map((d) => h("option", { value: d }, d))),
    datasets.length ? h("optgroup", { label: "Uploaded" }, datasets.map((d) => h("option", { value: d.id }, datasetLabel(d)))) : null,
    h("option", { value: "__upload__" }, "Upload a file…"));
  const file = h("input", { id: "f-file", type: "file", accept: uploadAccept(catalog.formats), "aria-describedby": "f-file-help f-file-error" });
  const fileField = h("div", { class: "field", hidden: true, dataset: { field: "file" } }, h("label", { for: "f-file" }, "Dataset file"), file,
    h("small", { id: "f-file-help", class: "muted" }, uploadHelp(catalog.formats)),
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
