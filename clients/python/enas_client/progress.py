"""A progress bar over a job's epochs (both phases), fed by its events: tqdm's notebook widget
in Jupyter, a terminal bar elsewhere."""

from __future__ import annotations

from typing import Any, TextIO

from .events import Event


def total_epochs(job: dict[str, Any]) -> int:
    config = job.get("config") or {}
    search = (config.get("search") or {}).get("epochs") or 0
    final = (config.get("train") or {}).get("epochs") or 0
    trainings = 2 if config.get("baseline") == "random" else 1  # a random baseline trained too
    return int(search + trainings * final) or 1


class JobProgress:
    def __init__(self, job: dict[str, Any], *, file: TextIO | None = None,
                 notebook: bool | None = None) -> None:
        if notebook is False or file is not None:
            from tqdm import tqdm
        else:
            from tqdm.auto import tqdm

        self.total = total_epochs(job)
        name = job.get("name") or str(job.get("id", ""))[:8]
        self.bar = tqdm(total=self.total, unit="epoch", desc=name, file=file,
                        dynamic_ncols=True, leave=True)
        self.best: float | None = job.get("best_val_acc")
        self.status = job.get("status")
        self.update(job)

    def _move(self, progress: float | None) -> None:
        if progress is None:
            return
        done = min(round(progress * self.total), self.total)
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)

    def update(self, job: dict[str, Any]) -> None:
        self.status = job.get("status", self.status)
        if job.get("best_val_acc") is not None:
            self.best = job["best_val_acc"]
        post = {"status": self.status}
        if self.best is not None:
            post["best_val"] = f"{self.best:.4f}"
        self.bar.set_postfix(post, refresh=False)
        if self.status == "succeeded":
            self._move(1.0)
        else:
            self._move(job.get("progress"))
        self.bar.refresh()

    def __call__(self, event: Event) -> None:
        data = event.data
        if event.event == "status":
            self.update(data)
            return
        if event.event != "epoch":
            return
        if data.get("phase") == "search" and (data.get("best") or {}).get("val_acc") is not None:
            self.best = data["best"]["val_acc"]
        self.bar.set_description(f"{data.get('phase')} {data.get('epoch')}/{data.get('epochs')}",
                                 refresh=False)
        post: dict[str, Any] = {}
        if data.get("train_loss") is not None:
            post["loss"] = f"{data['train_loss']:.3f}"
        if self.best is not None:
            post["best_val"] = f"{self.best:.4f}"
        if data.get("phase") == "final" and data.get("val_acc") is not None:
            post["val"] = f"{data['val_acc']:.4f}"
        self.bar.set_postfix(post, refresh=False)
        self._move(data.get("progress"))
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
