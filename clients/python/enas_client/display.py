"""How jobs and architectures show themselves in a notebook: plain HTML and inline SVG, with
nothing loaded from the network but the service itself."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

STATUS_COLOURS = {"queued": "#888", "running": "#1f77b4", "succeeded": "#2ca02c",
                  "failed": "#d62728", "cancelled": "#ff7f0e"}


def curve_svg(points: Sequence[tuple[int, float]], *, width: int = 320, height: int = 90,
              label: str = "val_acc") -> str:
    """A small line chart of (step, value) points, e.g. the best val_acc per epoch."""
    if not points:
        return ""
    pad = 24
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 0.5, y1 + 0.5

    def sx(x: float) -> float:
        return pad + (x - x0) / ((x1 - x0) or 1) * (width - 2 * pad)

    def sy(y: float) -> float:
        return height - pad / 2 - (y - y0) / (y1 - y0) * (height - pad)

    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    dots = "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2"/>' for x, y in points)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="10">'
        f'<text x="{pad}" y="10" fill="#444">{html.escape(label)}: '
        f'{ys[-1]:.4f} (min {min(ys):.4f}, max {max(ys):.4f})</text>'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{path}"/>'
        f'<g fill="#1f77b4">{dots}</g>'
        f'<text x="{pad}" y="{height - 1}" fill="#888">epoch {x0}</text>'
        f'<text x="{width - pad}" y="{height - 1}" fill="#888" text-anchor="end">{x1}</text>'
        f"</svg>"
    )


def status_line(job: dict[str, Any]) -> str:
    status = job.get("status", "?")
    parts = [f"job {str(job.get('id', ''))[:8]}"]
    if job.get("name"):
        parts.append(repr(job["name"]))
    parts.append(status)
    if status == "running" and job.get("phase"):
        parts.append(f"{job['phase']} epoch {job.get('epoch', 0)}/{job.get('epochs', 0)}")
    parts.append(f"{100 * float(job.get('progress') or 0):.0f}%")
    if job.get("best_val_acc") is not None:
        parts.append(f"best val_acc {job['best_val_acc']:.4f}")
    final = job.get("final") or {}
    if final.get("test_acc") is not None:
        parts.append(f"test_acc {final['test_acc']:.4f}")
    if job.get("eta_seconds"):
        parts.append(f"ETA {job['eta_seconds']:.0f} s")
    if job.get("error"):
        parts.append(f"error: {job['error']}")
    return " · ".join(parts)


def job_html(job: dict[str, Any], history: Sequence[dict[str, Any]] = (),
             cell_svg: str | None = None) -> str:
    colour = STATUS_COLOURS.get(job.get("status", ""), "#444")
    best: list[tuple[int, float]] = []
    for i, row in enumerate(r for r in history if r.get("phase") == "search"):
        value = (row.get("best") or {}).get("val_acc", row.get("val_acc"))
        if value is not None:
            best.append((i + 1, float(value)))
    out = [f'<div><b style="color:{colour}">●</b> {html.escape(status_line(job))}</div>']
    if best:
        out.append(curve_svg(best, label="best val_acc"))
    if cell_svg:
        out.append(f"<div>{cell_svg}</div>")
    return "".join(out)


def architecture_html(arch: dict[str, Any], *, val_acc: float | None = None,
                      costs: dict[str, Any] | None = None) -> str:
    rows = []
    for cell in ("conv", "reduce"):
        ops = arch.get(f"{cell}_ops")
        if ops is None:
            continue
        nodes = "<br>".join(
            f"node {i + 2}: " + " + ".join(
                f"{html.escape(str(op))}(in {inp})" for inp, op in zip(n[::2], n[1::2],
                                                                         strict=False))
            for i, n in enumerate(ops)
        )
        text = html.escape(str(arch.get(f"{cell}_text", "")))
        rows.append(f"<tr><td><b>{cell}</b><br><code>{text}</code></td><td>{nodes}</td></tr>")
    if not rows:  # the macro space: one list
        rows.append(f"<tr><td colspan=2><code>{html.escape(str(arch))}</code></td></tr>")
    head = []
    if val_acc is not None:
        head.append(f"val_acc {val_acc:.4f}")
    for key, value in (costs or {}).items():
        if value is not None:
            head.append(f"{key} {value:,}" if isinstance(value, int) else f"{key} {value:.3g}")
    caption = f"<caption>{html.escape(' · '.join(head))}</caption>" if head else ""
    return f"<table>{caption}{''.join(rows)}</table>"
