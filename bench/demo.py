"""How long `make run`'s demo takes: `enas serve --demo` on a fresh data directory, timed.

    python bench/demo.py                # prints the phases' times, writes bench/results/demo.json
    python bench/demo.py --port 8799

It starts the embedded service exactly as `make run` does, reads the lines the demo prints and
notes when each phase (queued, preparing, search, final, ...) is first reported, and stops the
service once the demo prints its test accuracy (or fails). Run it on an idle machine to check
the README's figure; the load average is recorded beside the times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASE = re.compile(r"demo: (\w+)\s+(\w*)\s+epoch")
ACCURACY = re.compile(r"demo: test accuracy ([\d.]+)")
SEARCH = re.compile(r"demo: the search: (.*)")
ENDED = re.compile(r"demo: (failed|cancelled)|could not submit")


def run(port: int, timeout_s: float) -> dict:
    load_before = os.getloadavg()[0]
    phases: dict[str, float] = {}
    result: dict = {}
    with tempfile.TemporaryDirectory(prefix="enas-demo-") as data_dir:
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "launcher", "serve", "--data-dir", data_dir,
             "--port", str(port), "--demo"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        # A silent hang ends the stdout loop too: the watchdog kills the service.
        watchdog = threading.Timer(timeout_s, os.killpg, (proc.pid, signal.SIGTERM))
        watchdog.start()
        tail: list[str] = []
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                now = time.monotonic() - start
                tail = [*tail[-19:], line.rstrip()]
                if "Submitted a demo search" in line:
                    phases.setdefault("submitted", now)
                if (m := PHASE.search(line)) is not None:
                    status, phase = m.groups()
                    phases.setdefault(phase or status, now)
                if (m := SEARCH.search(line)) is not None:
                    result["search"] = m.group(1)
                if (m := ACCURACY.search(line)) is not None:
                    phases["done"] = now
                    result["test_acc"] = float(m.group(1))
                    break
                if ENDED.search(line):
                    result["error"] = line.strip()
                    break
            else:
                timed_out = time.monotonic() - start >= timeout_s
                result["error"] = (f"no result after {timeout_s:.0f} s" if timed_out else
                                   "the service stopped before the demo ended")
                result["log_tail"] = tail
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    submitted = phases.get("submitted", 0.0)
    return {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "load_before": round(load_before, 2),
                    "load_after": round(os.getloadavg()[0], 2)},
        "seconds_since_start": {k: round(v, 1) for k, v in phases.items()},
        "job_wall_s": round(phases["done"] - submitted, 1) if "done" in phases else None,
        "command_wall_s": round(phases["done"], 1) if "done" in phases else None,
        **result,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--timeout", type=float, default=1800, help="give up after (seconds)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "demo.json")
    args = parser.parse_args()
    out = run(args.port, args.timeout)
    for phase, at in out["seconds_since_start"].items():
        print(f"  {phase:10s} at {at:7.1f} s")
    if out.get("job_wall_s") is not None:
        print(f"demo job: {out['job_wall_s']:.0f} s from submission to its test accuracy "
              f"({out['test_acc']:.4f}); the whole command {out['command_wall_s']:.0f} s; "
              f"load average {out['machine']['load_before']} before, "
              f"{out['machine']['load_after']} after")
    else:
        print(f"demo did not finish: {out.get('error')}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    return 0 if out.get("job_wall_s") is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
