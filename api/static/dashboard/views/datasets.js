// Uploaded datasets (#/datasets): upload, the sample grid and class counts, delete.

import { blob, request } from "../api.js";
import { fmt } from "../charts.js";
import { errorBox, h, section, toast, view, when } from "../dom.js";

// What the server reads and has built in (GET /datasets/formats, /datasets/builtin), asked
// rather than listed here: a format or dataset added to the engine shows up by itself.
export async function datasetCatalog(signal) {
  const [formats, builtin] = await Promise.all([
    request("/datasets/formats", { signal }), request("/datasets/builtin", { signal })]);
  return { formats: formats.data, builtin: builtin.data.map((d) => d.name) };
}

// The file input's `accept`: each format's endings, and the last part of one like .csv.gz.
export function uploadAccept(formats) {
  const endings = formats.flatMap((f) => f.suffixes.flatMap((s) => [s, s.slice(s.lastIndexOf("."))]));
  return [...new Set(endings)].join(",");
}

// "a, b, or c" of the uploadable formats' descriptions (as the server's 415 says it).
export function uploadHelp(formats) {
  const items = formats.filter((f) => f.suffixes.length).map((f) => f.description);
  return items.length > 1 ? `${items.slice(0, -1).join(", ")}, or ${items.at(-1)}` : items.join("");
}

export async function datasetsView() {
  const list = h("div");
  const file = h("input", { id: "ds-file", type: "file", required: true, "aria-describedby": "ds-file-help" });
  const help = h("small", { id: "ds-file-help", class: "muted" });
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
  } }, h("label", { for: "ds-file" }, "File "), file, h("label", { for: "ds-name" }, "Name "), name, h("button", { type: "submit" }, "Upload"), help, error);
  const signal = view("Datasets", upload, list);
  const catalog = datasetCatalog(signal);
  catalog.then(({ formats }) => {
    file.accept = uploadAccept(formats);
    help.textContent = uploadHelp(formats);
  }).catch((err) => { if (!signal.aborted) error.textContent = err.message; });
  const load = async () => {
    try {
      const page = await request("/datasets?limit=500", { signal });
      if (!page.data.length) {
        const { builtin } = await catalog;
        list.replaceChildren(h("p", {}, `No uploaded datasets. The built-in ones (${builtin.join(", ")}) need no upload.`));
        return;
      }
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
