"""A hostile corpus of 200 requests against `enas api` in a process of its own (issue 18, "done
when"): every answer a 4xx that says what to fix (or the 2xx of the few valid ones), none a
5xx; the API's resident memory back within 300 MB of its idle level after the burst; no file
left behind (upload staging, datasets of refused uploads, temp files).

The cases are those of test_hostile_requests.py and test_upload_limits.py, and the bombs of
bench/upload_memory.py (a .csv.gz expanding to gigabytes, three at once; a zip of
single-colour 4096x4096 PNGs), sent eight at a time."""

from __future__ import annotations

import functools
import gzip
import io
import os
import random
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, free_port, stop_process_group

MiB = 1024**2
UPLOAD_LIMIT = 16 * MiB  # the bombs reach the parsers (the test suite's 2 MiB would stop them)
DEEP = 100_000
RSS_GROWTH_LIMIT = 300 * MiB


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def api_process(service_env, tmp_path) -> Iterator[tuple[str, int, Path, Path]]:
    """`enas api` on the test database, with a data directory and a TMPDIR of its own;
    yields (url, pid, data dir, tmp dir) and stops it after the test."""
    data, tmp = tmp_path / "data", tmp_path / "tmp"
    tmp.mkdir()
    port = free_port()
    env = {**os.environ, "ENAS_DATA_DIR": str(data), "TMPDIR": str(tmp),
           "ENAS_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT), "PYTHONPATH": str(ROOT)}
    log = (tmp_path / "api.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "launcher", "api", "--port", str(port), "--no-migrate"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, (
            (tmp_path / "api.log").read_text())
        time.sleep(0.2)
    try:
        yield url, process.pid, data, tmp
    finally:
        stop_process_group(process, timeout=30)
        log.close()


# -- the corpus -------------------------------------------------------------------------------

Request = tuple[str, str, dict[str, Any], set[int]]  # method, path, httpx kwargs, statuses


def _multipart(parts: list[tuple[bytes, bytes]], boundary: str = "hostile-boundary"
               ) -> dict[str, Any]:
    body = b"".join(
        b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data; " + disposition
        + b"\r\n\r\n" + content + b"\r\n" for disposition, content in parts
    ) + b"--" + boundary.encode() + b"--\r\n"
    return {"content": body,
            "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"}}


def _npz(n: int = 40, side: int = 8) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((n, side, side), np.uint8), y=np.arange(n) % 2)
    return buf.getvalue()


@functools.cache
def _png(side: int, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _zip(members: dict[str, bytes], *, deflated: bool = True) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@functools.cache
def _csv_gz_bomb(members: int) -> bytes:
    """Gzip members of 16 MiB each (bench/upload_memory.py's): past the 1 GiB budget."""
    member = gzip.compress(random.Random(0).randbytes(20_000) + b"0," * (8 * MiB),
                           compresslevel=9)
    return member * members


def _tampered_npz() -> bytes:
    x = io.BytesIO()
    np.save(x, np.zeros((40, 8, 8), np.uint8))
    y = io.BytesIO()
    np.save(y, np.arange(40) % 2)
    header = x.getvalue().replace(b"'fortran_order': False", b"'fortran_order': Fals)")
    return _zip({"x.npy": header, "y.npy": y.getvalue()}, deflated=False)


def _upload(path: str, name: str, payload: bytes, statuses: set[int]) -> Request:
    return ("POST", path, {"files": {"file": (name, payload)}}, statuses)


def corpus() -> list[Request]:
    """200 requests; each names the answers it may get."""
    job = f"/jobs/{uuid.uuid4()}"
    json_ct = {"headers": {"Content-Type": "application/json"}}
    npz = _npz()
    small: list[Request] = [
        # item 5: what were 500s
        ("POST", "/jobs", {"content": b"[" * DEEP + b"]" * DEEP, **json_ct}, {422}),
        ("POST", "/jobs", {"content": b'{"dataset": "digits", "name": ' + b"[" * DEEP
                           + b"]" * DEEP + b"}", **json_ct}, {422}),
        *[("POST", "/jobs", {"content": b'{"dataset": "digits", "' + field + b'": "a\\ud800"}',
                             **json_ct}, {422})
          for field in (b"name", b"dataset", b"preset", b"mlflow_experiment")],
        ("POST", "/jobs", {"content": b'{"dataset": "digits", "\\udfff": 1}', **json_ct}, {422}),
        *[("POST", path, _multipart([(b'name="file"; filename="' + name + b'"', npz)]), {422})
          for name in (b"d.n\x00pz", b"d\x00.npz", b"d.npz\x01") for path in ("/datasets",
                                                                              "/jobs")],
        *[("POST", path, _multipart([(b'name="file"; filename="d.npz"', npz)], "b" * length),
           {422}) for length in (257, 5000) for path in ("/datasets", "/jobs")],
        ("POST", "/jobs", _multipart([(b'name="file"; filename="d.npz"', npz),
                                      (b'name="config"', b"[" * DEEP + b"]" * DEEP)]), {422}),
        ("POST", "/jobs", _multipart([(b'name="file"; filename="d.npz"', npz),
                                      (b'name="config"', b'{"name": "\\ud800"}')]), {422}),
        # item 7
        *[(method, path, {}, {405}) for method, path in (
            ("PUT", "/jobs"), ("DELETE", "/jobs"), ("PATCH", job), ("GET", job + "/cancel"),
            ("POST", "/usage"), ("POST", "/static/dashboard/app.js"))],
        *[("GET", "/usage", {"params": {"until": value}}, {422})
          for value in ("0.5", "1700000000", "-1", "12/01/2026")],
        *[("POST", "/jobs", {"json": {"dataset": "digits", field: value}}, {422})
          for field, value in (("search_epochs", "7"), ("max_params", "250000"),
                               ("search_lr", "0.1"), ("aux_head", "true"), ("aux_head", 1),
                               ("search_epochs", -1), ("layers", 5), ("no_such_option", 1),
                               ("search_epochs", 10**30), ("dataset", "no-such-dataset"))],
        *[("POST", "/jobs", {"content": b'{"dataset": "digits"}',
                             "headers": {"Content-Type": ct}}, {415})
          for ct in ("text/plain", "application/x-www-form-urlencoded", "image/png")],
        # item 3: bodies too large, declared or chunked; fields over their cap; too many parts
        ("POST", "/jobs", {"content": b" " * (2 * MiB), **json_ct}, {413}),
        ("POST", "/jobs", {"content": iter([b"[" + b"1," * (MiB // 2)] * 3), **json_ct}, {413}),
        ("POST", "/datasets", _multipart([(f'name="f{i}"'.encode(), b"x" * (600 * 1024))
                                          for i in range(3)]), {413}),
        ("POST", "/datasets", _multipart([(f'name="f{i}"'.encode(), b"x")
                                          for i in range(20)]), {422}),
        ("POST", "/datasets", {"content": b"not multipart",
                               "headers": {"Content-Type": "application/octet-stream"}}, {415}),
        # reads a client gets wrong
        *[("GET", path, {}, {404, 422}) for path in (
            "/jobs/not-a-uuid", job, job + "/history", job + "/architecture", job + "/pareto",
            f"/datasets/{uuid.uuid4()}", "/datasets/x", job + "/model?format=exe")],
        *[("GET", "/jobs", {"params": params}, {422}) for params in (
            {"limit": 10**9}, {"offset": 2**63}, {"limit": 0}, {"status": "sleeping"},
            {"limit": "ten"})],
        # uploads refused before the parser
        _upload("/datasets", "d.txt", b"hello", {415}),
        _upload("/datasets", "d.exe", npz, {415}),
        _upload("/datasets", "x" * 300 + ".npz", npz, {422}),
        _upload("/datasets", "big.npz", b"\0" * (UPLOAD_LIMIT + 1), {413}),
    ]
    bombs: list[Request] = [
        # items 2, 4 and 6: refused by the parsers (in child processes), three bombs at once
        *[_upload("/datasets", f"bomb{i}.csv.gz", _csv_gz_bomb(80), {413, 422})
          for i in range(3)],
        _upload("/datasets", "pngs.zip",
                _zip({f"{'ab'[i % 2]}/{i}.png": _png(4096) for i in range(21)}), {422}),
        _upload("/datasets", "bomb.zip", _zip({"cat/1.png": _png(8), "dog/1.png": _png(8),
                                               "dog/bomb.png": bytes(40 * MiB)}), {422}),
        _upload("/datasets", "t.npz", _tampered_npz(), {422}),
        _upload("/datasets", "tiny.npz", _npz(side=1), {422}),
        _upload("/datasets", "one-class.npz", _zip({"x.npy": b"", "y.npy": b""}), {422}),
        _upload("/jobs", "bomb.csv.gz", _csv_gz_bomb(80), {413, 422}),
        _upload("/jobs", "garbage.npz", b"PK\x03\x04garbage", {422}),
    ]
    valid: list[Request] = [_upload("/datasets", f"ok{i}.npz", npz, {201}) for i in range(2)]
    unauthenticated = [("GET", "/jobs", {"headers": {"Authorization": value}}, {401})
                       for value in ("Bearer enas_not-a-key", "Bearer x", "Basic dXNlcg==",
                                     "Bearer " + "k" * 5000)]
    requests = small + bombs + valid + unauthenticated
    fill = [r for r in small if not isinstance(r[2].get("content"), Iterator)]
    while len(requests) < 200:
        requests.append(fill[len(requests) % len(fill)])
    return requests[:200]


def _send(url: str, key: dict[str, str], request: Request) -> tuple[Request, int, str]:
    method, path, kwargs, _ = request
    kwargs = dict(kwargs)
    headers = {**key, **kwargs.pop("headers", {})}
    if "content" in kwargs and isinstance(kwargs["content"], Iterator):
        kwargs["content"] = iter(list(kwargs["content"]))  # each send its own generator
    with httpx.Client(base_url=url, timeout=120) as http:
        response = http.request(method, path, headers=headers, **kwargs)
    return request, response.status_code, response.text[:300]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_hostile_corpus_leaves_the_api_as_it_found_it(api_process, live_keys):
    url, pid, data, tmp = api_process
    alice = live_keys["alice"]
    requests = corpus()
    assert len(requests) == 200
    with httpx.Client(base_url=url, headers=alice) as http:  # the routes' imports, warm
        for path in ("/jobs", "/datasets", "/usage"):
            assert http.get(path).status_code == 200
    idle = _rss(pid)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda r: _send(url, alice, r), requests))
    took = time.monotonic() - started
    wrong = [(r[0], r[1], status, text) for r, status, text in answers if status not in r[3]]
    assert wrong == [], wrong
    assert not any(status >= 500 for _, status, _ in answers)
    # Nothing behind: the stored datasets are the two valid uploads, deleted now.
    with httpx.Client(base_url=url, headers=alice) as http:
        stored = [d["id"] for d in http.get("/datasets", params={"limit": 500}).json()["data"]
                  if d["filename"] in ("ok0.npz", "ok1.npz")]
        assert len(stored) == 2
        assert all(http.delete(f"/datasets/{d}").status_code == 204 for d in stored)
    time.sleep(3)  # as bench/upload_memory.py: 3 s after
    after = _rss(pid)
    print(f"hostile corpus: 200 requests in {took:.1f} s; API RSS idle {idle / MiB:.0f} MiB, "
          f"3 s after {after / MiB:.0f} MiB")
    assert after - idle <= RSS_GROWTH_LIMIT, (idle, after)
    assert list((data / "tmp").iterdir()) == []
    assert list((data / "datasets").iterdir()) == []
    assert [p.name for p in tmp.iterdir() if not p.name.startswith("pymp-")] == []
