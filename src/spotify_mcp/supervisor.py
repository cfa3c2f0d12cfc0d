"""Runs the services as child processes in the foreground and stops them all together."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM us if the supervisor dies, so nothing is orphaned."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True)
class ChildSpec:
    """A service to run: its name and command line."""

    name: str
    argv: Sequence[str]


class ProcessSupervisor:
    """Starts children, waits, and on Ctrl-C, SIGTERM or any child's exit stops the rest."""

    def __init__(
        self,
        children: Sequence[ChildSpec],
        *,
        env: Mapping[str, str] | None = None,
        grace_seconds: float = 15.0,
    ) -> None:
        self._specs = list(children)
        self._env = dict(env if env is not None else os.environ)
        self._grace = grace_seconds
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._stop_requested = threading.Event()

    def run(self) -> int:
        """Run until stopped; returns the exit code for the command line."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for spec in self._specs:
                self._processes[spec.name] = subprocess.Popen(  # noqa: S603  (our own argv)
                    list(spec.argv),
                    env=self._env,
                    preexec_fn=_die_with_parent,  # noqa: PLW1509  (no threads run here yet)
                )
                logger.info("started %s", spec.name, extra={"pid": self._processes[spec.name].pid})
            return self._wait()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self._stop_requested.is_set():
            logger.info("stopping on %s", signal.Signals(signum).name)
        self._stop_requested.set()

    def _wait(self) -> int:
        while not self._stop_requested.is_set():
            for name, process in self._processes.items():
                code = process.poll()
                if code is not None:
                    time.sleep(0.3)  # a Ctrl-C reaches the children and us at the same moment
                    if self._stop_requested.is_set():
                        return 0
                    logger.error("%s exited with code %s; stopping the others", name, code)
                    self._stop_requested.set()
                    return code or 1
            time.sleep(0.2)
        return 0

    def _stop_all(self) -> None:
        self._stop_requested.set()
        for process in self._processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._grace
        for name, process in self._processes.items():
            remaining = max(0.0, deadline - time.monotonic())
            try:
                process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in %.0f s; killing it", name, self._grace)
                process.kill()
                process.wait()
        logger.info("all services stopped")
