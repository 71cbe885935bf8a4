"""Child processes that never outlive the dev stack, even when it is killed."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


class StackError(Exception):
    """A dev-stack server could not be started; str() says which and why."""


def _die_with_parent() -> None:
    # Linux only: the kernel kills the child when the process that started it dies,
    # so a crashed or SIGKILLed dev stack leaves no broker or Redis behind.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ManagedProcess:
    """A named child process with a polite stop signal and a hard deadline."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        stop_signal: signal.Signals = signal.SIGTERM,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.stop_signal = stop_signal
        self.env = env
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        self._log = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._log else subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,  # Ctrl-C in the terminal reaches only the dev stack
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )

    def exit_code(self) -> int | None:
        """None while running."""
        return self._proc.poll() if self._proc else None

    def wait_until(self, ready: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll `ready` until it is true; fail early if the process died."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self.exit_code()
            if code is not None:
                raise StackError(f"{self.name} exited with code {code} before {what}{self._hint()}")
            if ready():
                return
            time.sleep(0.05)
        raise StackError(
            f"{self.name} did not become {what} within {timeout_s:.0f} s{self._hint()}"
        )

    def _hint(self) -> str:
        return f" (log: {self.log_path})" if self.log_path else ""

    def kill(self) -> None:
        """SIGKILL the whole process group at once (crash tests)."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(10)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask politely, then kill the whole process group; idempotent."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(self.stop_signal)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout_s)
        if self._log:
            self._log.close()
            self._log = None
