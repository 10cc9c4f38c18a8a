"""The API process's resident memory around hostile uploads (issue 18, items 2 and 4): idle,
the peak while they are validated, and 3 s after (and the peak of its child processes
together: the upload parsers), for one `.csv.gz` that expands to gigabytes
(refused), then three at once, then a zip of single-colour 4096x4096 PNGs (a few KB that
decode to a gigabyte). Brings up the stack of bench/api.py (Postgres database, `enas api`);
`--app-root DIR` measures another checkout (the figures before a change).

    .venv/bin/python bench/upload_memory.py [--app-root DIR]

Prints a table and writes bench/results/upload_memory.json.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import Stack, add_stack_arguments  # noqa: E402

MB = 1024**2


def bomb_csv_gz(members: int = 250) -> bytes:
    """Gzip members of 16 MiB each (zeros and 20 KB of noise): about 460 times smaller than
    what they expand to, a ratio real CSV never has, but one a stream only shows as it is
    read."""
    rng = __import__("random").Random(0)
    member = gzip.compress(rng.randbytes(20_000) + b"0," * (8 * MB), compresslevel=9)
    return member * members


def png_bomb_zip(count: int = 21, side: int = 4096) -> bytes:
    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (side, side), (200, 30, 30)).save(png, format="PNG", optimize=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(count):
            zf.writestr(f"{'ab'[i % 2]}/{i}.png", png.getvalue())
    return buf.getvalue()


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def descendants_rss(pid: int) -> int:
    """The resident memory of every process below `pid` (the upload parsers, the forkserver)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        todo += children.get(child, [])
        try:
            total += rss(child)
        except (OSError, RuntimeError):
            pass
    return total


def measure(url: str, key: str, pid: int, name: str, payload: bytes, at_once: int) -> dict:
    idle = rss(pid)
    peak, below, done = [idle], [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss(pid))
            below[0] = max(below[0], descendants_rss(pid))
            time.sleep(0.01)

    def post(_: int) -> httpx.Response:
        return httpx.post(f"{url}/datasets", files={"file": (name, payload)},
                          headers={"Authorization": f"Bearer {key}"}, timeout=600)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.monotonic()
    try:
        with ThreadPoolExecutor(at_once) as pool:
            responses = list(pool.map(post, range(at_once)))
    finally:
        done.set()
        sampler.join()
    seconds = time.monotonic() - start
    time.sleep(3)
    return {
        "upload": name, "upload_bytes": len(payload), "at_once": at_once,
        "status": [r.status_code for r in responses],
        "detail": responses[0].json().get("detail", "")[:160],
        "idle_mb": round(idle / MB), "peak_mb": round(peak[0] / MB),
        "after_3s_mb": round(rss(pid) / MB), "children_peak_mb": round(below[0] / MB),
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_stack_arguments(parser)
    parser.add_argument("--output", type=Path,
                        default=ROOT / "bench" / "results" / "upload_memory.json")
    args = parser.parse_args(argv)
    args.api_workers = 1
    stack = Stack(args)
    stack.data_dir.mkdir(parents=True)
    rows = []
    try:
        key = stack.up()
        pid = stack.procs[0].pid  # `enas api` with one worker: uvicorn in this process
        csv_gz, pngs = bomb_csv_gz(), png_bomb_zip()
        time.sleep(2)
        rows.append(measure(stack.url, key, pid, "bomb.csv.gz", csv_gz, 1))
        rows.append(measure(stack.url, key, pid, "bomb.csv.gz", csv_gz, 3))
        rows.append(measure(stack.url, key, pid, "pngs.zip", pngs, 1))
    finally:
        stack.down()
    print(f"{'upload':<12} {'bytes':>10} {'at once':>7} {'status':<16} {'idle MB':>8} "
          f"{'peak MB':>8} {'after MB':>8} {'children':>8} {'s':>6}")
    for r in rows:
        print(f"{r['upload']:<12} {r['upload_bytes']:>10,} {r['at_once']:>7} "
              f"{','.join(map(str, r['status'])):<16} {r['idle_mb']:>8} {r['peak_mb']:>8} "
              f"{r['after_3s_mb']:>8} {r['children_peak_mb']:>8} {r['seconds']:>6}")
        print(f"  {r['detail']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(
        {"app_root": str(args.app_root or ROOT), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
