"""How many CPU threads torch uses, and how idle ones wait: one setting for the CLI and the
worker, torch-free until `configure_threads` runs.

The default is the cores this process may use: its CPU affinity (`taskset`, a cpuset) and its
cgroup's CPU quota (`docker run --cpus`, a Kubernetes CPU limit), whichever is smaller, not
the machine's count. More threads than cores, or threads beside a busy neighbour, make
torch's OpenMP threads wait for each other at every parallel region. `OMP_WAIT_POLICY=PASSIVE`
lets a waiting thread sleep instead of spinning on a core another process needs; OpenMP reads
it once, when torch loads it, so the entry points call `passive_wait_policy()` first.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

THREADS_ENV = "ENAS_TORCH_THREADS"
MAX_THREADS = 4096

log = logging.getLogger(__name__)


def passive_wait_policy() -> None:
    """Idle OpenMP threads sleep instead of spinning (unless the user chose a policy). Takes
    effect only before torch is imported: call it first thing in an entry point."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _mounts(mountinfo: str) -> list[tuple[str, str, str, set[str]]]:
    """(root, mount point, file system type, super options) of each mount (proc(5))."""
    found = []
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if sep and len(fields) >= 5 and len(tail) >= 3:
            options = set(tail[2].split(","))
            found.append((fields[3], fields[4], tail[0], options))
    return found


def _quota(path: Path, v2: bool) -> float | None:
    """The cores a cgroup's CPU bandwidth limit allows, or None where it sets none."""
    try:
        if v2:
            quota, period = (path / "cpu.max").read_text().split()[:2]
            if quota == "max":
                return None
        else:
            quota = (path / "cpu.cfs_quota_us").read_text().strip()
            period = (path / "cpu.cfs_period_us").read_text().strip()
            if int(quota) < 0:  # -1: unlimited
                return None
        return int(quota) / int(period) if int(period) > 0 else None
    except (OSError, ValueError):
        return None


def cgroup_cpu_limit(root: Path = Path("/")) -> float | None:
    """The CPU quota of this process's cgroup and its ancestors (the smallest), in cores, from
    cgroup v2's cpu.max or v1's cpu.cfs_quota_us / cpu.cfs_period_us; None without one.
    `root` prefixes every path read (tests give a fake /proc and /sys/fs/cgroup)."""
    try:
        groups = (root / "proc/self/cgroup").read_text()
        mountinfo = (root / "proc/self/mountinfo").read_text()
    except OSError:
        return None
    limits: list[float] = []
    for mount_root, point, fstype, options in _mounts(mountinfo):
        v2 = fstype == "cgroup2"
        if not v2 and not (fstype == "cgroup" and "cpu" in options):
            continue
        for line in groups.splitlines():
            hid, _, rest = line.partition(":")
            controllers, _, path = rest.partition(":")
            if (hid == "0" and not controllers) != v2 or (
                    not v2 and "cpu" not in controllers.split(",")):
                continue
            # The cgroup's path below the mount's root (inside a container both are "/").
            relative = os.path.relpath(path, mount_root) if path.startswith(mount_root) else "."
            base = root / point.lstrip("/")
            here = (base / relative).resolve() if relative != "." else base
            while True:  # the group and each ancestor up to the mount point
                quota = _quota(here, v2)
                if quota is not None:
                    limits.append(quota)
                if here == base or base not in here.parents:
                    break
                here = here.parent
    return min(limits) if limits else None


def available_cpus(root: Path = Path("/")) -> int:
    """The cores this process may use: its affinity, capped by its cgroup CPU quota (rounded
    down: a thread past the quota is throttled, and OpenMP's threads wait for the slowest), at
    least 1."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:  # macOS, Windows
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_limit(root) if sys.platform.startswith("linux") else None
    if quota is not None:
        cores = min(cores, math.floor(quota))
    return max(1, cores)


def parse_threads(text: str, *, source: str = THREADS_ENV) -> int:
    """A thread count from text; ValueError saying what to give where it is not one (`source`
    names the setting, "" leaves it to the caller)."""
    try:
        n = int(text.strip())
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"{source} must be a whole number of threads from 1 to {MAX_THREADS}, "
                         f"got {text!r}".lstrip())
    return n


def resolve_threads(requested: int | None = None) -> int:
    """The threads to use: `requested` (a --threads flag), else ENAS_TORCH_THREADS, else
    OMP_NUM_THREADS (which torch would follow too), else `available_cpus()`."""
    if requested is not None:
        return parse_threads(str(requested), source="--threads")
    if os.environ.get(THREADS_ENV, "").strip():
        return parse_threads(os.environ[THREADS_ENV])
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) >= 1:
        return int(omp)
    return available_cpus()


def configure_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads to `resolve_threads(requested)` and return the count."""
    n = resolve_threads(requested)
    if "torch" not in sys.modules and "OMP_WAIT_POLICY" not in os.environ:
        passive_wait_policy()  # torch is not loaded yet: still in time
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    log.debug("torch uses %d CPU thread(s) (OMP_WAIT_POLICY=%s)", n,
              os.environ.get("OMP_WAIT_POLICY", "unset"))
    return n


def threads_word(n: int) -> str:
    """'1 thread', '2 threads'."""
    return f"{n} thread" + ("" if n == 1 else "s")
