// The enas-service dashboard: jobs, one job live, datasets. Plain ES modules, no build step;
// everything it loads comes from this server (see the page's Content-Security-Policy). This
// module routes; each page is a module in views/, the DOM helpers are in dom.js.

import { key } from "./api.js";
import { datasetsView } from "./views/datasets.js";
import { jobView } from "./views/job.js";
import { jobsView } from "./views/jobs.js";
import { signIn } from "./views/signin.js";
import { submitView } from "./views/submit.js";

window.addEventListener("enas:unauthorized", () => {
  key.clear();
  signIn("The API key was refused (invalid or revoked).", route);
});

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
  if (!key.get()) return signIn(undefined, route);
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "datasets") return datasetsView();
  if (parts[0] === "jobs" && parts[1] === "new") return submitView();
  if (parts[0] === "jobs" && parts[1]) return jobView(parts[1]);
  return jobsView(params);
}

document.getElementById("sign-out").addEventListener("click", () => { key.clear(); route(); });
window.addEventListener("hashchange", route);
route();
