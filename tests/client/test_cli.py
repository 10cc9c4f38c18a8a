"""`enas jobs|datasets|usage` against the live service, through the engine's `enas` command
(the client's `enas.commands` entry point)."""

from __future__ import annotations

from pathlib import Path

import pytest

from enas_core.cli import main as enas
from tests.conftest import TINY_JOB

pytestmark = pytest.mark.slow


@pytest.fixture
def remote(live_url, live_keys, worker, monkeypatch, capsys):
    monkeypatch.setenv("ENAS_URL", live_url)
    monkeypatch.setenv("ENAS_KEY", live_keys["alice"]["Authorization"].split()[1])

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = enas([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def flags(options: dict) -> list[str]:
    return [arg for k, v in options.items() for arg in (f"--{k.replace('_', '-')}", str(v))]


def test_the_remote_commands_end_to_end(remote, digits_npz: Path, tmp_path):
    code, out, _ = remote("datasets", "upload", digits_npz, "--name", "cli digits")
    assert code == 0, out
    dataset = out.strip().splitlines()[-1]
    assert "400 images 8x8x1, 10 classes" in out
    code, out, _ = remote("datasets", "list")
    assert code == 0 and dataset in out and "cli digits" in out

    code, out, err = remote("jobs", "submit", dataset, "--name", "cli job", *flags(TINY_JOB),
                            "--watch")
    assert code == 0, out + err
    job = err.split("submitted job ", 1)[1].split()[0] if "submitted job" in err else \
        out.split("submitted job ", 1)[1].split()[0]
    assert "status    succeeded" in out
    assert "test_acc" in out and "device time" in out and "images" in out
    assert "epoch" in err  # the progress bar

    code, out, _ = remote("jobs", "list", "--status", "succeeded", "--limit", "500")
    assert code == 0 and job in out and "cli job" in out
    code, out, _ = remote("jobs", "show", job)
    assert code == 0 and f"job       {job}" in out
    assert len(out.split("conv      ", 1)[1].split("\n")[0].split()) == 4 * TINY_JOB["nodes"]
    code, out, _ = remote("jobs", "show", job, "--json")
    assert code == 0 and '"status": "succeeded"' in out
    code, out, _ = remote("jobs", "watch", job)  # already finished: at once, exit 0
    assert code == 0

    code, out, _ = remote("jobs", "download", job, "-o", tmp_path, "--format", "onnx")
    assert code == 0
    model = Path(out.strip())
    assert model.parent == tmp_path and model.suffix == ".onnx" and model.stat().st_size > 1000

    code, out, _ = remote("usage", "--since", "2026-01-01")
    assert code == 0 and "search:" in out and "on cpu" in out

    code, out, _ = remote("jobs", "delete", job)
    assert code == 0
    code, _, err = remote("jobs", "show", job)
    assert code == 1 and f"no job {job}" in err
    code, out, _ = remote("datasets", "delete", dataset)
    assert code == 0


def test_submit_from_a_file_and_cancel(remote, digits_npz: Path):
    code, out, err = remote("jobs", "submit", digits_npz, *flags({**TINY_JOB,
                                                                  "search_epochs": 50}))
    assert code == 0, err
    job = out.strip().splitlines()[-1]
    code, out, _ = remote("jobs", "cancel", job)
    assert code == 0 and job in out
    code, out, _ = remote("jobs", "watch", job)
    assert code == 3 and "cancelled" in out  # cancelled: exit 3


def test_bad_options_exit_2_naming_the_field(remote):
    code, _, err = remote("jobs", "submit", "digits", "--search-epochs", "0")
    assert code == 2 and "search_epochs" in err and "greater than or equal to 1" in err
    code, _, err = remote("jobs", "submit", "digits", "--layers", "4")  # the server's 422
    assert code == 2 and "layers" in err and "multiple of 3" in err
    with pytest.raises(SystemExit):  # argparse: not a number
        remote("jobs", "submit", "digits", "--search-epochs", "five")


def test_a_wrong_key_is_one_line_not_a_traceback(remote, monkeypatch):
    monkeypatch.setenv("ENAS_KEY", "enas_wrong")
    code, _, err = remote("jobs", "list")
    assert code == 1 and err.startswith("enas: error:") and "API key" in err
    assert "Traceback" not in err
