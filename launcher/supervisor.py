"""The embedded mode's worker: one subprocess, started again when it dies (`enas serve`)."""

from __future__ import annotations

import logging
import signal
import subprocess
import threading

log = logging.getLogger("enas.service")


class WorkerSupervisor:
    """Keeps one worker subprocess running (embedded mode): a worker that dies is started
    again, and the reaper hands it back the job the dead one held."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.command, self.env = command, env
        self.proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.proc = subprocess.Popen(self.command, env=self.env)
            if self._stop.is_set():  # stop() came while it was starting
                self.proc.terminate()
            code = self.proc.wait()
            if self._stop.is_set():
                return
            log.warning("the worker exited (code %s); starting another in 2 s", code)
            self._stop.wait(2)

    def stop(self) -> None:
        self._stop.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # a warm shutdown waits for the job's step
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()  # its job stays "running" and is resumed at the next start
                proc.wait()
        self._thread.join(timeout=5)
