"""The CLI against a server: `enas jobs ...`, `enas datasets ...`, `enas usage`.

`register(subparsers)` is this package's `enas.commands` entry point, so the engine's `enas`
command gains these commands when the client is installed; `enas-client` (or
`python -m enas_client`) runs them without the engine. The server and the key come from
`--url`/`--key` or ENAS_URL/ENAS_KEY. `jobs submit` takes every job option of the API as a
flag, made from the same schema the client checks options with.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .client import Client
from .errors import EnasError
from .jobs import MODEL_FORMATS, Job, JobFailedError
from .options import packaged_schema

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
_PY_TYPES: dict[str, Callable[[str], Any]] = {"integer": int, "number": float, "string": str}
_METAVARS = {"integer": "N", "number": "X", "string": "TEXT"}


def _connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("server")
    group.add_argument("--url", help="the service's URL (default: ENAS_URL, else "
                                     "http://127.0.0.1:8000)")
    group.add_argument("--key", help="an API key (default: ENAS_KEY)")
    group.add_argument("--json", action="store_true", help="print the server's JSON")
    return common


def _presets() -> list[str]:
    """The presets the API's schema lists (an enum: no guessing from its description)."""
    spec = packaged_schema()["properties"].get("preset", {})
    return next((b["enum"] for b in spec.get("anyOf", [spec]) if "enum" in b), [])


def _option_flags(parser: argparse.ArgumentParser) -> list[str]:
    """One flag per job option of the API's schema (but `dataset`, the positional)."""
    group = parser.add_argument_group(
        "job options", "the API's job fields (GET /openapi.json); unset ones take the preset's "
        "value")
    names = []
    for name, spec in packaged_schema()["properties"].items():
        if name in ("dataset", "name", "preset"):
            continue
        branch = next((b for b in spec.get("anyOf", [spec]) if b.get("type") != "null"), spec)
        kwargs: dict[str, Any] = {"dest": f"opt_{name}", "default": None,
                                  "metavar": _METAVARS.get(branch.get("type", ""), "VALUE")}
        if "enum" in branch:
            kwargs["choices"] = branch["enum"]
            kwargs.pop("metavar")
        elif branch.get("type") == "boolean":
            kwargs["action"] = argparse.BooleanOptionalAction
            kwargs.pop("metavar")
        else:
            kwargs["type"] = _PY_TYPES.get(branch.get("type", "string"), str)
        bounds = [f"{word} {branch[key]}" for key, word in
                  (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                   ("exclusiveMaximum", "<")) if key in branch]
        text = spec.get("description", "")
        kwargs["help"] = f"{text} ({', '.join(bounds)})" if bounds else text
        group.add_argument(f"--{name.replace('_', '-')}", **kwargs)
        names.append(name)
    return names


OPTION_NAMES: list[str] = []


def register(subparsers: argparse._SubParsersAction) -> None:
    common = _connection_options()

    jobs = subparsers.add_parser("jobs", help="search jobs on a server (ENAS_URL, ENAS_KEY)",
                                 description="Submit and follow search jobs on an "
                                             "enas-service server.")
    sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")

    p = sub.add_parser("submit", parents=[common], help="submit a search job",
                       description="Submit a search job; options override the preset's.")
    p.add_argument("dataset", help="a built-in dataset (digits, mnist, fashion-mnist, cifar10), "
                                   "an uploaded dataset's id, or a file to upload with the job "
                                   "(.npz, .csv, .zip)")
    p.add_argument("--preset", help=f"a named setting: {', '.join(_presets())}")
    p.add_argument("--name", help="a label for you")
    p.add_argument("--idempotency-key", help="a retry with the same key returns the same job")
    p.add_argument("--watch", action="store_true", help="then follow it with a progress bar")
    OPTION_NAMES[:] = _option_flags(p)
    p.set_defaults(func=_safe(cmd_submit))

    p = sub.add_parser("list", parents=[common], help="your jobs, newest first")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    p.set_defaults(func=_safe(cmd_list))

    for action, text, func in (
        ("show", "a job's status, results and cost", cmd_show),
        ("watch", "follow a job with a progress bar until it ends (exit 1 if it fails)",
         cmd_watch),
        ("cancel", "cancel a job", cmd_cancel),
        ("delete", "delete a finished job and its files", cmd_delete),
    ):
        p = sub.add_parser(action, parents=[common], help=text)
        p.add_argument("job_id")
        p.set_defaults(func=_safe(func))

    p = sub.add_parser("download", parents=[common], help="download a job's trained model")
    p.add_argument("job_id")
    p.add_argument("-o", "--output", default=".",
                   help="a file, or a folder to save it in under the server's name "
                        "(default: .)")
    p.add_argument("--format", choices=MODEL_FORMATS, default="pt",
                   help="pt (enas_core.export.load_model), torchscript or onnx (default: pt)")
    p.set_defaults(func=_safe(cmd_download))

    datasets = subparsers.add_parser("datasets", help="uploaded datasets on a server")
    sub = datasets.add_subparsers(dest="datasets_command", required=True, metavar="ACTION")
    p = sub.add_parser("upload", parents=[common], help="upload a dataset file")
    p.add_argument("path", help=".npz (arrays x, y), .csv (label, pixels...), or .zip (class "
                                "folders of images, or an MNIST-style IDX pair)")
    p.add_argument("--name", help="a label for you")
    p.set_defaults(func=_safe(cmd_dataset_upload))
    p = sub.add_parser("list", parents=[common], help="your datasets")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=_safe(cmd_dataset_list))
    p = sub.add_parser("delete", parents=[common], help="delete a dataset no job is using")
    p.add_argument("dataset_id")
    p.set_defaults(func=_safe(cmd_dataset_delete))

    p = subparsers.add_parser("usage", parents=[common],
                              help="what your jobs cost on a server: device time, images")
    p.add_argument("--since", help="ISO date or time, e.g. 2026-12-01")
    p.add_argument("--until", help="ISO date or time (exclusive)")
    p.set_defaults(func=_safe(cmd_usage))


# -- output -----------------------------------------------------------------------------------


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _client(args: argparse.Namespace) -> Client:
    return Client(args.url, args.key)


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _fmt(value: Any, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def _cpu_minutes(seconds: float | None) -> str:
    """The worker process's CPU time (all its threads), which is not the wall time."""
    return "" if not seconds else f"{seconds / 60:.1f} CPU-min, "


def describe_usage(usage: dict[str, Any] | None) -> list[str]:
    if not usage:
        return []
    lines = []
    device = usage.get("device") or {}
    where = device.get("name") or device.get("type") or "?"
    if device.get("threads"):
        where += f", {device['threads']} thread" + ("" if device["threads"] == 1 else "s")
    if device.get("memory_bytes"):
        where += f", {device['memory_bytes'] / 2**30:.0f} GiB"
    lines.append(f"device:    {device.get('device', '?')} ({where})")
    for phase in ("search", "final"):
        part = (usage.get("phases") or {}).get(phase)
        if part:
            peak = part.get("peak_memory_bytes")
            lines.append(
                f"{phase + ':':<10} {_minutes(part.get('seconds'))} device time, "
                f"{_cpu_minutes(part.get('cpu_seconds'))}{part.get('images', 0):,} images"
                + (f", peak memory {peak / 2**20:.0f} MiB" if peak else "")
            )
    return lines


def _show(job: Job) -> None:
    d = job.data
    print(f"job       {job.id}" + (f"  ({job.name})" if job.name else ""))
    print(f"dataset   {d.get('dataset')}")
    line = f"status    {job.status}"
    if job.status == "running":
        line += f", {job.phase} epoch {job.epoch}/{job.epochs}, {100 * job.progress:.0f}%"
        if d.get("eta_seconds"):
            line += f", ETA {d['eta_seconds']:.0f} s"
    print(line)
    if job.error:
        print(f"error     {job.error}")
    if job.best_val_acc is not None:
        print(f"best      val_acc {job.best_val_acc:.4f}")
    final = job.final or {}
    if final:
        print(f"final     test_acc {_fmt(final.get('test_acc'))}, params "
              f"{final.get('params') or 0:,}, latency {_fmt(final.get('latency_ms'), '.2f')} ms")
    if job.selection:
        print(f"selection {job.selection['summary']}")
    for warning in job.warnings:
        print(f"WARNING   {warning['message']}")
    for line in describe_usage(job.usage):
        print(line)


# -- commands ---------------------------------------------------------------------------------


def cmd_submit(args: argparse.Namespace) -> int:
    options = {name: value for name in OPTION_NAMES
               if (value := getattr(args, f"opt_{name}", None)) is not None}
    dataset: Any = args.dataset
    from pathlib import Path

    if Path(dataset).expanduser().is_file():
        dataset = Path(dataset).expanduser()
    with _client(args) as client:
        job = client.submit(dataset, args.preset, name=args.name,
                            idempotency_key=args.idempotency_key, **options)
        if args.json and not args.watch:
            _print_json(job.data)
            return 0
        print(f"submitted job {job.id} ({job.status})", file=sys.stderr if args.json else None)
        if not args.watch:
            print(job.id)
            return 0
        return _watch(job, args)


def _watch(job: Job, args: argparse.Namespace) -> int:
    try:
        job.wait(progress=True)
    except JobFailedError:
        pass
    if args.json:
        _print_json(job.data)
    else:
        _show(job)
    return {"succeeded": 0, "cancelled": 3}.get(job.status, 1)


def cmd_watch(args: argparse.Namespace) -> int:
    with _client(args) as client:
        return _watch(client.job(args.job_id), args)


def cmd_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        jobs = client.jobs(args.status, limit=args.limit)
        if args.json:
            _print_json([j.data for j in jobs])
            return 0
        rows = []
        for j in jobs:
            where = f"{j.phase} {j.epoch}/{j.epochs}" if j.phase else "-"
            test_acc = (j.final or {}).get("test_acc")
            device = (j.usage or {}).get("device") or {}
            cost = (f"{j.usage['seconds'] / 60:.1f} {device.get('device', '')}".strip()
                    if j.usage else "-")
            status = j.status + (" (warning)" if j.warnings else "")
            rows.append([j.id, (j.name or "")[:30], status, where, f"{100 * j.progress:.0f}%",
                         _fmt(j.best_val_acc), _fmt(test_acc), cost,
                         str(j.data.get("created_at", ""))[:19]])
        _table(rows, ["ID", "NAME", "STATUS", "PHASE", "DONE", "BEST_VAL", "TEST_ACC",
                      "DEVICE_MIN", "CREATED"])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.job(args.job_id)
        if args.json:
            _print_json(job.data)
            return 0
        _show(job)
        if job.best_val_acc is not None:
            try:
                arch = job.architecture()
            except EnasError:
                return 0
            if arch.conv_text is not None:
                print(f"conv      {arch.conv_text}")
                print(f"reduce    {arch.reduce_text}")
            else:
                print(f"arch      {arch.arch}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.job(args.job_id).cancel()
        if args.json:
            _print_json(job.data)
        else:
            print(f"job {job.id}: {job.status}"
                  + (" (stops within one training step)" if job.status == "running" else ""))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.job(args.job_id).delete()
    print(f"deleted job {args.job_id}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    with _client(args) as client:
        path = client.job(args.job_id).download_model(args.output, format=args.format)
    print(path)
    return 0


def cmd_dataset_upload(args: argparse.Namespace) -> int:
    with _client(args) as client:
        dataset = client.upload_dataset(args.path, name=args.name)
    if args.json:
        _print_json(dataset.data)
    else:
        print(f"dataset {dataset.id}: {dataset.num_samples} images "
              f"{'x'.join(map(str, dataset.image_shape))}, {dataset.num_classes} classes")
        print(dataset.id)
    return 0


def cmd_dataset_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        datasets = client.datasets(limit=args.limit)
    if args.json:
        _print_json([d.data for d in datasets])
        return 0
    _table([[d.id, d.name[:30], str(d.num_samples), "x".join(map(str, d.image_shape)),
             str(d.num_classes), d.created_at[:19]] for d in datasets],
           ["ID", "NAME", "IMAGES", "SHAPE", "CLASSES", "CREATED"])
    return 0


def cmd_dataset_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.delete_dataset(args.dataset_id)
    print(f"deleted dataset {args.dataset_id}")
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    with _client(args) as client:
        usage = client.usage(args.since, args.until)
    if args.json:
        _print_json(usage)
        return 0
    print(f"owner     {usage.get('owner')}")
    span = f"{usage.get('since') or 'the start'} to {usage.get('until') or 'now'}"
    print(f"period    {span}")
    print(f"jobs      {usage.get('jobs', 0)}")
    for phase, part in (usage.get("phases") or {}).items():
        print(f"{phase + ':':<10}{_minutes(part.get('seconds'))} device time, "
              f"{_cpu_minutes(part.get('cpu_seconds'))}{part.get('images', 0):,} images")
    for device in usage.get("devices") or []:
        print(f"on {device.get('device')} ({device.get('name')}): "
              f"{_minutes(device.get('seconds'))}, {device.get('jobs')} job(s)")
    return 0


def _safe(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The command, with the client's errors as one line on stderr and exit status 1 (2 for
    invalid options, as argparse), whichever `enas` runs it. httpx's line per request
    ("INFO httpx: HTTP Request: GET ...", under `enas`'s INFO logging) only with `enas -v`."""

    def run(args: argparse.Namespace) -> int:
        if not getattr(args, "verbose", False):
            logging.getLogger("httpx").setLevel(logging.WARNING)
        try:
            return int(command(args) or 0)
        except EnasError as exc:
            field = getattr(exc, "field", None)
            detail = getattr(exc, "detail", None) or str(exc)
            where = f"{field}: " if field and field not in detail else ""
            print(f"enas: error: {where}{detail}", file=sys.stderr)
            return 2 if getattr(exc, "status", None) == 422 else 1
        except KeyboardInterrupt:
            print("\nenas: interrupted (the job goes on on the server)", file=sys.stderr)
            return 130

    run.__name__ = command.__name__
    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="enas-client", description="Drive an enas-service server (ENAS_URL, ENAS_KEY).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)
