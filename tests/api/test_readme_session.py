"""The README's examples that talk to the service, run as written against one `enas serve`
(embedded mode: SQLite, the filesystem broker, one worker), in the order a reader meets them,
in one folder: the curl session, the enas_client script, the `enas jobs` commands. Each
submits the README's small job on the 1,000 digits of `enas example-data`, follows it to its
end and cancels what it does not follow; each job must end with a model well above chance,
near the figure the README shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from packaging.utils import canonicalize_name

from enas_core.cli import main as enas
from tests import install
from tests.conftest import ROOT, free_port, stop_process_group

README = ROOT / "README.md"
CLIENT = ROOT / "clients" / "python"
URL, KEY = "http://127.0.0.1:8000", "enas_3q..."  # as the README writes them
MIN_TEST_ACC = 0.8  # 10 classes: chance is 0.1; the small job reaches about 0.9
README_SLACK = 0.06  # how far a figure the README shows may be from the one measured


def readme_block(heading: str, lang: str = "bash", marker: str | None = None) -> str:
    """The first ```lang block after `heading` (and after `marker`, when given)."""
    text = README.read_text()
    text = text[text.index(heading):]
    if marker:
        text = text[text.index(marker):]
    match = re.search(rf"```{lang}\n(.*?)```", text, re.S)
    assert match, f"no {lang} block under {heading!r}"
    return match.group(1)


def readme_session() -> str:
    """The bash block of README's "A session with curl"."""
    return readme_block("### A session with curl")


def client_script() -> str:
    return readme_block("### From Python: `enas_client`", "python", "<!-- client-script -->")


def enas_commands() -> str:
    return readme_block("### From the command line: `enas jobs`")


def shown_test_acc(text: str) -> float:
    """The test accuracy an output the README shows prints."""
    found = re.findall(r'test_acc"?:?\s+([01]\.\d+)', text)
    assert found, f"no test_acc in {text!r}"
    return float(found[-1])


def check_test_acc(measured: float, shown: float) -> None:
    assert measured >= MIN_TEST_ACC, f"test_acc {measured}: the README's job barely learned"
    assert abs(measured - shown) <= README_SLACK, (
        f"the README shows test_acc {shown}, the job measured {measured}")


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, str, Path]]:
    """`enas serve` on a free port in a data directory of its own; yields (url, key, log)."""
    tmp_path = tmp_path_factory.mktemp("served")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ENAS_") or k == "ENAS_LATENCY_CACHE"}
    env.update(ENAS_DEVICE="cpu", PYTHONUNBUFFERED="1")
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "launcher", "serve", "--data-dir", str(tmp_path / "data"),
             "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            found = re.search(r"export ENAS_KEY=(\S+)", log.read_text())
            try:
                if found and httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield url, found.group(1), log
    finally:
        stop_process_group(proc, timeout=30)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The reader's folder: the repository's `.venv` and `digits.npz` (step 0 of the curl
    session, written here too so that each test also runs alone)."""
    work = tmp_path_factory.mktemp("reader")
    (work / ".venv").symlink_to(ROOT / ".venv")
    assert enas(["example-data", str(work / "digits.npz")]) == 0
    return work


def run_bash(script: str, served: tuple[str, str, Path], folder: Path,
             env: dict[str, str] | None = None) -> str:
    url, key, log = served
    assert URL in script or KEY in script
    script = script.replace(URL, url).replace(KEY, key)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=folder,
                          env=env or dict(os.environ), capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{log.read_text()[-3000:]}"
    # No command answered an error (problem+json bodies carry "type":"about:blank").
    assert "about:blank" not in done.stdout, done.stdout[-3000:]
    return done.stdout


@pytest.mark.slow(cpu_s=50)
@pytest.mark.timeout(1500)  # whole jobs; its subprocess may take up to 1200 s
def test_the_readme_curl_session_runs_as_written(served, folder):
    script = readme_session()
    assert f"export ENAS={URL} ENAS_KEY={KEY}" in script
    out = run_bash(script, served, folder)
    assert "written: digits.npz (1,000 digits, 28x28, 10 classes)" in out
    assert '"num_samples":1000,"image_shape":[28,28,1]' in out
    # The two jobs it does not follow, cancelled while queued (and one deleted).
    assert out.count('"status":"cancelled"') == 2, out[-3000:]
    # The event stream followed the job to its end: a model well above chance.
    final = re.findall(r'^data: (\{.*"status": "succeeded".*)$', out, re.M)
    assert final, out[-3000:]
    check_test_acc(float(re.search(r'"test_acc": ([0-9.]+)', final[-1]).group(1)),
                   shown_test_acc(script.split("curl -N", 1)[1]))
    assert '"front":[' in out  # the Pareto front
    for name in ("model.pt", "model.ts", "model.onnx"):
        assert (folder / name).stat().st_size > 1000, name
    assert "LoadedModel: a micro network, " in out  # the downloaded file, loaded
    # The service's own log stayed quiet: no Alembic plugin lines, no Celery banner or its
    # warning about running as root (`enas serve --verbose` shows them).
    log = served[2].read_text()
    for noise in ("alembic", "[queues]", "superuser privileges", "Uvicorn running"):
        assert noise not in log, log


# -- the enas_client script ---------------------------------------------------------------------


def readme_client_install() -> str:
    """The README's first `pip install` line of the client (the one its script needs)."""
    return next(ln for ln in readme_block("### From Python: `enas_client`").splitlines()
                if ln.startswith("pip install"))


def test_the_readme_client_install_brings_what_its_script_imports():
    """Every package the README's client script imports comes with the install the README
    gives it (onnxruntime did not: the script failed after its wait)."""
    line = readme_client_install().split("#")[0].strip()
    brought = install.installed_by(install.pip_requirements(line))
    owners = metadata.packages_distributions()
    for module in install.third_party_imports(client_script()):
        dists = {canonicalize_name(d) for d in owners.get(module, [module])}
        assert dists & brought, (
            f"the README's client script imports {module}, which `{line}` does not install")


BLOCK_OTHERS = """
import runpy, sys
allowed = set(sys.argv[1].split(","))
class OnlyInstalled:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top not in allowed and top not in sys.stdlib_module_names:
            raise ModuleNotFoundError(f"No module named {top!r}", name=top)
sys.meta_path.insert(0, OnlyInstalled())
runpy.run_path(sys.argv[2], run_name="__main__")
"""


@pytest.mark.slow(cpu_s=50)
@pytest.mark.timeout(1500)  # whole jobs; its subprocess may take up to 1200 s
def test_the_readme_client_script_runs_as_written(served, folder):
    """In a fresh interpreter where only what the README's install line brings is
    importable."""
    url, key, log = served
    line = readme_client_install().split("#")[0].strip()
    allowed = install.importable(install.installed_by(install.pip_requirements(line)))
    allowed.add("_distutils_hack")  # setuptools' start-up hook, before the script runs
    (folder / "session.py").write_text(client_script())
    (folder / "model.onnx").unlink(missing_ok=True)  # the curl session's
    env = {"ENAS_URL": url, "ENAS_KEY": key, "PATH": "/usr/bin:/bin",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(CLIENT)}
    done = subprocess.run([sys.executable, "-c", BLOCK_OTHERS, ",".join(sorted(allowed)),
                           "session.py"], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=1200)
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}\n{log.read_text()[-3000:]}"
    assert "epoch" in done.stderr  # the progress bar
    assert (folder / "model.onnx").stat().st_size > 1000
    shown = readme_block("<!-- client-script -->", "", "It prints")
    status = re.search(r"^(\w+) test_acc ([0-9.]+)$", out, re.M)
    assert status and status.group(1) == "succeeded", out
    check_test_acc(float(status.group(2)), shown_test_acc(shown))
    # The downloaded ONNX model, run with ONNX Runtime, reads the digits.
    predicted, true = (re.findall(r"\d", part) for part in
                       re.search(r"predicted \[(.*?)\] true \[(.*?)\]", out, re.S).groups())
    assert len(true) == 8 and sum(p == t for p, t in zip(predicted, true, strict=True)) >= 6
    assert out.splitlines()[0] == shown.splitlines()[0]  # the upload, as the README shows


# -- `enas jobs ...` ----------------------------------------------------------------------------


@pytest.mark.slow(cpu_s=50)
@pytest.mark.timeout(1500)  # whole jobs; its subprocess may take up to 1200 s
def test_the_readme_enas_commands_run_as_written(served, folder):
    url, key, log = served
    script = enas_commands()
    assert f"export ENAS_KEY={KEY}" in script
    env = {**os.environ, "ENAS_URL": url,
           "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    env = {k: v for k, v in env.items() if k != "ENAS_KEY"}
    (folder / "model.onnx").unlink(missing_ok=True)  # the client script's
    out = run_bash(script, served, folder, env)
    assert re.search(r"  digits +1000 +28x28x1 +10 ", out), out  # the upload, listed
    assert re.search(r"^job \S+: cancelled$", out, re.M), out  # the job it does not follow
    watched = out.split("status    succeeded", 1)[1]
    check_test_acc(float(re.search(r"final     test_acc ([0-9.]+)", watched).group(1)),
                   shown_test_acc(script))
    assert "conv      " in watched and "reduce    " in watched  # `enas jobs show`
    assert (folder / "model.onnx").stat().st_size > 1000
    assert "deleted job " in out
