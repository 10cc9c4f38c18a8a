"""`enas serve --demo`: a client of the service like any other, over HTTP. It submits a short
search on the bundled digits once the API answers, prints how to follow it (curl, the
dashboard) and then the job's progress until it ends."""

from __future__ import annotations

import json
import logging
import sys
import time
import urllib.error
import urllib.request

from enas_core.progress import format_duration

log = logging.getLogger("enas.service")


# The `demo` preset: the quick search cut to fit a 2-core CPU in a few minutes (README, Presets).
DEMO_JOB = {"dataset": "digits", "preset": "demo", "name": "demo: a short search on digits"}


def submit_demo_job(url: str, key: str, *, timeout_s: float = 60.0) -> str:
    """Wait for the API, submit the demo job over HTTP like any client, return its id."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
            break
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    request = urllib.request.Request(
        f"{url}/jobs", data=json.dumps(DEMO_JOB).encode(), method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["id"]


def dashboard_url(url: str, key: str | None, *, job: str | None = None) -> str:
    """The dashboard's address; with a key, one that signs in by itself (the key rides in the
    fragment, which the browser never sends to the server)."""
    path = f"/jobs/{job}" if job else "/jobs"
    return f"{url}/#{path}" + (f"?key={key}" if key else "")


def run_demo(url: str, key: str) -> None:
    """Submit the demo job, print how to follow it, then its progress until it ends
    (`enas serve --demo`, in a thread beside the API)."""
    try:
        job = submit_demo_job(url, key)
    except Exception as exc:  # the service keeps running; only the demo failed
        log.error("could not submit the demo job: %s", exc)
        return
    auth = f'-H "Authorization: Bearer {key}"'
    print(
        f"\n  Submitted a demo search on the bundled digits: job {job}\n"
        f"  Follow it:    curl -N {auth} {url}/jobs/{job}/events\n"
        f"  Status:       curl -s {auth} {url}/jobs/{job}\n"
        f"  Architecture: curl -s {auth} {url}/jobs/{job}/architecture\n"
        f"  Model:        curl -s {auth} -o model.pt {url}/jobs/{job}/model\n"
        f"\n  Watch it in the dashboard: {dashboard_url(url, key, job=job)}\n",
        flush=True,
    )
    try:
        follow_demo_job(url, key, job)
    except Exception as exc:  # only the printing stopped; the job runs on
        log.warning("stopped following the demo job: %s", exc)


# What a running job does where its progress stands still: before its first epoch, and after
# the last epoch of a phase (the search ranks its candidates; a training is tested, and the
# worker exports the trained network).
_PREPARING = "preparing: the data, latency tables"
_AFTER = {"search": "ranking the candidates", "select": "training the pick in full",
          "final": "testing the network, exporting it",
          "baseline": "testing the baseline, exporting it"}


def _doing(job: dict) -> str | None:
    """What a running job does between its progress reports, or None while epochs run."""
    phase = job.get("phase")
    if job.get("status") != "running" or phase is None:
        return None
    if phase == "preparing":
        return _PREPARING
    return _AFTER.get(phase) if (job.get("epoch") or 0) >= (job.get("epochs") or 1) else None


def follow_demo_job(url: str, key: str, job_id: str, *, poll_s: float = 2.0,
                    out=None, clock=None) -> dict:
    """Print the demo job's progress (a line per phase, per finished epoch and per 5% within
    one, with the ETA, and what it does where the progress stands still) until it ends, then
    what the search found and how long it took; returns the last job read."""
    out = out or sys.stdout
    clock = clock or time.monotonic
    headers = {"Authorization": f"Bearer {key}"}

    def get(path: str) -> dict:
        request = urllib.request.Request(f"{url}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    started = clock()
    seen, shown = None, -1.0
    while True:
        job = get(f"/jobs/{job_id}")
        where = (job["status"], job.get("phase"), job.get("epoch"))
        progress = job.get("progress") or 0.0
        if where != seen or progress >= shown + 0.05:  # and every 5% within an epoch
            seen, shown = where, progress
            eta = job.get("eta_seconds")
            best = job.get("best_val_acc")
            what = _doing(job)
            print(f"  demo: {job['status']:9s} {job.get('phase') or '':9s} "
                  f"epoch {job.get('epoch') or 0}/{job.get('epochs') or '?'}  "
                  f"{100 * progress:3.0f}%"
                  + (f"  best val_acc {best:.3f}" if best is not None else "")
                  + (f"  ETA {format_duration(eta)}" if eta else "")
                  + (f"  ({what})" if what else ""), file=out, flush=True)
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(poll_s)
    summary = (job.get("search_summary") or {}).get("summary")
    final = job.get("final") or {}
    if summary:
        print(f"  demo: the search: {summary}", file=out, flush=True)
    if final.get("test_acc") is not None:
        print(f"  demo: test accuracy {final['test_acc']:.4f}, {final.get('params')} params",
              file=out, flush=True)
    for warning in job.get("warnings") or []:
        print(f"  demo: WARNING: {warning['message']}", file=out, flush=True)
    if job.get("error"):
        print(f"  demo: {job['error']}", file=out, flush=True)
    print(f"  demo: finished in {format_duration(clock() - started)} ({job['status']})",
          file=out, flush=True)
    return job
