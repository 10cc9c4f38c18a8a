// The service's HTTP API as the dashboard uses it: the key kept for the browser session, JSON
// requests that turn problem+json bodies into errors, and a job's event stream read with
// fetch (EventSource cannot send an Authorization header).

const KEY = "enas.apiKey";

export const key = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value.trim()),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  // Field name -> the API's message, from a 422's `errors` (loc ends with the field).
  fieldErrors() {
    const out = {};
    for (const e of this.problem.errors || []) {
      const loc = (e.loc || []).filter((p) => !["body", "form", "config", "query"].includes(p));
      const field = loc.length ? String(loc[0]) : null;
      if (field && !(field in out)) out[field] = e.msg;
    }
    return out;
  }
}

function headers(extra = {}) {
  const h = { ...extra };
  const k = key.get();
  if (k) h.Authorization = `Bearer ${k}`;
  return h;
}

export async function request(path, { method = "GET", json, form, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new CustomEvent("enas:unauthorized"));
    throw new ApiError(response.status, typeof body === "object" ? body : { detail: body });
  }
  return body;
}

export async function blob(path, { signal } = {}) {
  const response = await fetch(path, { headers: headers(), signal });
  if (!response.ok) {
    let problem = {};
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  return response;
}

// Follow /jobs/{id}/events: onEvent(type, data) for each event, from the first epoch on;
// reconnects after a dropped connection with Last-Event-ID until the job has ended.
export async function followEvents(jobId, { onEvent, signal }) {
  let lastId = 0;
  let ended = false;
  while (!ended && !signal.aborted) {
    try {
      const h = headers({ Accept: "text/event-stream" });
      if (lastId) h["Last-Event-ID"] = String(lastId);
      const response = await fetch(`/jobs/${jobId}/events`, { headers: h, signal });
      if (!response.ok) throw new ApiError(response.status, await response.json());
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = { type: "message", data: "", id: null };
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const [field, ...rest] = line.split(":");
            const text = rest.join(":").replace(/^ /, "");
            if (field === "event") event.type = text;
            else if (field === "data") event.data += text;
            else if (field === "id") event.id = Number(text);
          }
          if (!event.data) continue;
          if (event.id) lastId = event.id;
          const data = JSON.parse(event.data);
          if (event.type === "status" && ["succeeded", "failed", "cancelled", "deleted"]
            .includes(data.status)) ended = true;
          onEvent(event.type, data);
        }
      }
      if (!ended) await new Promise((r) => setTimeout(r, 1000));
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.status < 500) throw err;
      await new Promise((r) => setTimeout(r, 2000)); // the server restarts; try again
    }
  }
}
