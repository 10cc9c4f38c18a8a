"""The thread setting: the cores a process may use (affinity, cgroup quota), ENAS_TORCH_THREADS
and --threads, OpenMP's wait policy, and what importing the engine loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from enas_core import threads
from enas_core.cli import main
from enas_core.threads import (
    available_cpus,
    cgroup_cpu_limit,
    configure_threads,
    parse_threads,
    resolve_threads,
)


def fake_host(root: Path, *, v2: dict[str, str] | None = None,
              v1: dict[str, tuple[str, str]] | None = None, group: str = "/a/b") -> Path:
    """A /proc/self and /sys/fs/cgroup under `root`: `v2` maps a cgroup path to its cpu.max,
    `v1` to its (cpu.cfs_quota_us, cpu.cfs_period_us); the process sits in `group`."""
    (root / "proc/self").mkdir(parents=True)
    lines, mounts = [], ["22 1 0:21 / /proc rw - proc proc rw"]
    if v2 is not None:
        lines.append(f"0::{group}")
        mounts.append("30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate")
        for path, text in v2.items():
            folder = root / "sys/fs/cgroup" / path.lstrip("/")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "cpu.max").write_text(text + "\n")
    if v1 is not None:
        lines.append(f"4:cpu,cpuacct:{group}")
        lines.append(f"3:memory:{group}")
        mounts.append("31 22 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct")
        for path, (quota, period) in v1.items():
            folder = root / "sys/fs/cgroup/cpu,cpuacct" / path.lstrip("/")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "cpu.cfs_quota_us").write_text(quota + "\n")
            (folder / "cpu.cfs_period_us").write_text(period + "\n")
    (root / "proc/self/cgroup").write_text("\n".join(lines) + "\n")
    (root / "proc/self/mountinfo").write_text("\n".join(mounts) + "\n")
    return root


def test_cgroup_v2_quota_is_the_smallest_of_the_group_and_its_ancestors(tmp_path):
    root = fake_host(tmp_path, v2={"/": "max 100000", "/a": "50000 100000",
                                   "/a/b": "150000 100000"})
    assert cgroup_cpu_limit(root) == 0.5
    other = fake_host(tmp_path / "2", v2={"/": "max 100000", "/a/b": "250000 100000"})
    assert cgroup_cpu_limit(other) == 2.5


def test_cgroup_v1_quota_and_no_quota(tmp_path):
    root = fake_host(tmp_path, v1={"/": ("-1", "100000"), "/a/b": ("300000", "100000")})
    assert cgroup_cpu_limit(root) == 3.0
    unlimited = fake_host(tmp_path / "2", v1={"/": ("-1", "100000"), "/a/b": ("-1", "100000")})
    assert cgroup_cpu_limit(unlimited) is None
    assert cgroup_cpu_limit(fake_host(tmp_path / "3", v2={"/": "max 100000"})) is None
    assert cgroup_cpu_limit(tmp_path / "nothing") is None


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux affinity")
def test_available_cpus_is_the_affinity_capped_by_the_quota(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # the machine's count is not the answer
    monkeypatch.setattr(threads.sys, "platform", "linux")
    assert available_cpus(fake_host(tmp_path / "none", v2={"/": "max 100000"})) == 6
    assert available_cpus(fake_host(tmp_path / "q", v2={"/a/b": "250000 100000"})) == 2
    assert available_cpus(fake_host(tmp_path / "small", v2={"/a/b": "50000 100000"})) == 1
    assert available_cpus(fake_host(tmp_path / "big", v1={"/a/b": ("900000", "100000")})) == 6


def test_threads_come_from_the_flag_then_the_environment_then_the_cores(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 7)
    monkeypatch.delenv("ENAS_TORCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert resolve_threads() == 7
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert resolve_threads() == 3
    monkeypatch.setenv("ENAS_TORCH_THREADS", " 2 ")
    assert resolve_threads() == 2
    assert resolve_threads(5) == 5


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5", "5000", ""])
def test_a_bad_thread_count_says_what_to_give(text):
    with pytest.raises(ValueError, match="ENAS_TORCH_THREADS must be a whole number of threads "
                                         "from 1 to 4096"):
        parse_threads(text)


def test_configure_threads_sets_torchs_threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("ENAS_TORCH_THREADS", "2")
    try:
        assert configure_threads() == 2 and torch.get_num_threads() == 2
        assert configure_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_the_cli_refuses_a_bad_thread_count(monkeypatch, capsys):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)  # main() sets it; restored after
    with pytest.raises(SystemExit) as exc:
        main(["train", "--threads", "0"])
    assert exc.value.code == 2
    assert "--threads: must be a whole number of threads from 1 to 4096, got '0'" in \
        capsys.readouterr().err
    monkeypatch.setenv("ENAS_TORCH_THREADS", "many")
    assert main(["train", "--arc", "0 0 0 0", "--reduce-arc", "0 0 0 0"]) == 2
    assert "ENAS_TORCH_THREADS must be a whole number" in capsys.readouterr().err


def _run(code: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    return out.stdout.strip()


def test_the_entry_points_make_idle_openmp_threads_sleep_before_torch_loads():
    """OpenMP reads OMP_WAIT_POLICY once, when torch loads it: `enas` and `python -m
    launcher` set it (unless the user chose one) before anything imports torch."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = ("import os, sys\nfrom {module} import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\n"
            "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)")
    for module in ("enas_core.cli", "launcher.cli"):
        assert _run(code.format(module=module), env).splitlines()[-1] == "PASSIVE False"
    chosen = _run(code.format(module="enas_core.cli"), env | {"OMP_WAIT_POLICY": "ACTIVE"})
    assert chosen.splitlines()[-1] == "ACTIVE False"


@pytest.mark.slow
def test_the_engine_loads_no_flop_counter_until_it_counts():
    """torch.utils.flop_counter loads triton (~77 MiB with the CUDA wheel); a worker imports
    the pipeline without it, and measure_flops still counts."""
    code = ("import sys, enas_core.pipeline\n"
            "print('torch.utils.flop_counter' in sys.modules, 'triton' in sys.modules)\n"
            "import torch\nfrom enas_core.metrics import measure_flops\n"
            "print(measure_flops(torch.nn.Conv2d(1, 2, 3, bias=False), (1, 5, 5)))")
    loaded, flops = _run(code, dict(os.environ)).splitlines()[-2:]
    assert loaded == "False False"
    assert flops == str(2 * 9 * 9)  # 2 output channels x 3x3 outputs x 9 multiply-adds
