// The sign-in form: the API key, kept for this browser tab only (api.js's `key`).

import { key, request } from "../api.js";
import { h, view } from "../dom.js";

// `done` runs once the key is accepted: the router, which shows the page asked for.
export function signIn(message, done) {
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true,
    placeholder: "enas_...", "aria-describedby": "key-help" });
  const error = h("p", { class: "error", role: "alert" }, message || "");
  const form = h("form", { class: "card narrow", onsubmit: async (e) => {
    e.preventDefault();
    key.set(input.value);
    try {
      await request("/jobs?limit=1");
      done();
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
