"""The OpenAPI document's examples, one per body (GET /docs shows them)."""

from __future__ import annotations

ARCH_EXAMPLE = {
    "space": "micro",
    "nodes": 2,
    "conv": [0, 0, 1, 3, 1, 2, 0, 4],
    "reduce": [1, 1, 0, 3, 0, 4, 2, 2],
    "conv_text": "0 0 1 3 1 2 0 4",
    "reduce_text": "1 1 0 3 0 4 2 2",
    "conv_ops": [[0, "sep_conv_3x3", 1, "max_pool_3x3"], [1, "avg_pool_3x3", 0, "identity"]],
    "reduce_ops": [[1, "sep_conv_5x5", 0, "max_pool_3x3"], [0, "identity", 2, "avg_pool_3x3"]],
}

# As the architecture responses give it, with the line to show it by.
LABELLED_ARCH_EXAMPLE = {**ARCH_EXAMPLE, "label": "conv: 0 0 1 3 1 2 0 4 | reduce: 1 1 0 3 0 4 2 2"}

COSTS_EXAMPLE = {"params": 41234, "flops": 5120000, "latency_ms": 2.1, "memory_mb": 1.9}

PROBLEM_EXAMPLES = [
    {
        "type": "about:blank",
        "title": "Invalid input",
        "status": 422,
        "detail": "search_epochs: Input should be greater than or equal to 1",
        "instance": "/jobs",
        "errors": [{"loc": ["body", "search_epochs"], "msg": "..."}],
    }
]

DATASET_EXAMPLES = [
    {
        "id": "0b6f1c1e-8a53-4d47-9a0e-3d7b6f0c9a11",
        "name": "my-digits",
        "filename": "digits.npz",
        "size_bytes": 1048576,
        "num_samples": 1797,
        "image_shape": [8, 8, 1],
        "channels": 1,
        "num_classes": 10,
        "classes": [str(i) for i in range(10)],
        "class_counts": {str(i): 180 for i in range(10)},
        "created_at": "2026-11-28T08:00:00Z",
    }
]

JOB_REQUEST_EXAMPLES = [
    {"dataset": "digits", "preset": "quick"},
    {
        "dataset": "0b6f1c1e-8a53-4d47-9a0e-3d7b6f0c9a11",
        "name": "first search",
        "space": "micro",
        "search_epochs": 10,
        "final_epochs": 20,
        "layers": 6,
        "channels": 20,
        "nodes": 5,
        "final_layers": 9,
        "final_channels": 36,
        "search_batch_size": 128,
        "final_batch_size": 128,
        "seed": 0,
        "time_limit": 3600,
    },
    {
        "dataset": "digits",
        "preset": "quick",
        "max_params": 250000,
        "max_latency_ms": 5.0,
        "constraint_mode": "soft",
        "constraint_weight": -0.07,
        "latency_device": "cpu",
        "latency_batch_size": 1,
    },
]

JOB_USAGE_EXAMPLES = [
    {
        "device": {"type": "cuda", "device": "cuda:0", "name": "NVIDIA H100",
                   "memory_bytes": 85045231616},
        "memory_kind": "cuda_allocated",
        "devices": ["cuda:0"],
        "attempts": 1,
        "phases": {
            "search": {"seconds": 3120.5, "cpu_seconds": 3300.1,
                       "images": 8250000, "peak_memory_bytes": 6442450944},
            "final": {"seconds": 5400.2, "cpu_seconds": 5600.0,
                      "images": 31500000, "peak_memory_bytes": 9663676416},
        },
        "seconds": 8520.7,
        "cpu_seconds": 8900.1,
        "images": 39750000,
        "peak_memory_bytes": 9663676416,
    }
]

JOB_EXAMPLES = [
    {
        "id": "5e0c2d8e-2f4b-4a8b-9d51-8f2c5b1f7e22",
        "name": None,
        "dataset": "digits",
        "dataset_name": "digits",
        "dataset_id": None,
        "status": "running",
        "phase": "search",
        "epoch": 3,
        "epochs": 10,
        "progress": 0.21,
        "best_val_acc": 0.83,
        "eta_seconds": 312.0,
        "attempts": 1,
        "failures": 0,
        "worker_losses": 0,
        "retries": 0,
        "cancel_requested": False,
        "error": None,
        "created_at": "2026-11-28T08:00:00Z",
        "started_at": "2026-11-28T08:00:01Z",
        "finished_at": None,
        "updated_at": "2026-11-28T08:01:30Z",
        "final": None,
        "request": {"dataset": "digits", "preset": "quick"},
        "config": {"search": {"epochs": 10}, "train": {"epochs": 10}, "seed": 0},
    }
]

EPOCH_EXAMPLES = [
    {
        "phase": "search",
        "epoch": 3,
        "epochs": 10,
        "progress": 0.15,
        "train_loss": 1.21,
        "train_acc": 0.58,
        "val_acc": 0.62,
        "lr": 0.048,
        "seconds": 41.2,
        "controller_loss": -0.02,
        "entropy": 1.93,
        "baseline": 0.55,
        "mean_reward": 0.57,
        "sampled": [{"arch": ARCH_EXAMPLE, "reward": 0.61}],
        "best": {"arch": ARCH_EXAMPLE, "val_acc": 0.64},
        "created_at": "2026-11-28T08:03:00Z",
    }
]

ARCHITECTURE_EXAMPLES = [
    {
        "rank": 1,
        "source": "final",
        "val_acc": 0.91,
        "arch": LABELLED_ARCH_EXAMPLE,
        "costs": COSTS_EXAMPLE,
        "feasible": True,
        "score": 0.91,
        "final": {
            "test_acc": 0.93,
            "val_acc": 0.92,
            "params": 41234,
            "flops": 5120000,
            "latency_ms": 2.3,
            "memory_mb": 1.9,
            "latency_batch_size": 1,
            "device": "cuda",
            "constraints": [
                {"name": "params", "limit": 250000, "measured": 41234,
                 "met": True, "mode": "hard", "unit": "parameters"},
            ],
            "constraints_met": True,
        },
    }
]

SEARCH_REPORT_EXAMPLES = [
    {
        "strategy": "enas",
        "verdict": "controller better",
        "summary": "the controller's candidates beat random ones by +3.1 points "
                   "[+0.9, +5.4] (95% bootstrap interval)",
        "difference": {"mean": 0.031, "ci95": [0.009, 0.054], "bootstrap": 2000},
        "entropy": {"first": 57.2, "last": 54.9},
        "controller": {"n": 20, "distinct": 20, "mean": 0.884, "std": 0.03,
                       "best": 0.93, "top": [{"arch": ARCH_EXAMPLE,
                                              "val_acc": 0.93}]},
        "random": {"n": 20, "distinct": 20, "mean": 0.853, "std": 0.05,
                   "best": 0.92, "top": [{"arch": ARCH_EXAMPLE, "val_acc": 0.92}]},
    }
]

PARETO_EXAMPLES = [
    {
        "objectives": {"val_acc": "max", "params": "min", "latency_ms": "min"},
        "latency_device": "cpu",
        "latency_batch_size": 1,
        "evaluated": 12,
        "front": [{"arch": LABELLED_ARCH_EXAMPLE, "val_acc": 0.91, **COSTS_EXAMPLE,
                  "feasible": True, "score": 0.91}],
        "count": 1,
        "constraints": None,
    }
]
