"""Container health checks, standard library only: an HTTP probe and the collector's process check.

Usage (exit status 0 healthy, 1 unhealthy; one line on stderr says why):

    python healthcheck.py http://127.0.0.1:8000/healthz
    python healthcheck.py collector [--pid 1]

The collector listens on no port. Its check reads /proc: the process (PID 1 in its container)
must exist, run `spotify-mcp collector`, and be neither a zombie nor stopped. A hung event
loop is not detected this way; a heartbeat file written by the run loop would be.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

_TIMEOUT_SECONDS = 3.0
# /proc/<pid>/stat states of a process that will not run again without outside help.
_DEAD_STATES = frozenset({"Z", "X", "x", "T", "t"})


class HttpProbe:
    """Healthy when a GET of the URL answers 2xx within the timeout."""

    def __init__(self, url: str, timeout: float = _TIMEOUT_SECONDS) -> None:
        self.url = url
        self.timeout = timeout

    def check(self) -> str | None:
        """None when healthy, else the reason."""
        if not self.url.startswith(("http://", "https://")):
            return f"not an http(s) URL: {self.url}"
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as response:  # noqa: S310
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            return f"{self.url} answered {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return f"{self.url} unreachable: {exc.__class__.__name__}"
        return None if 200 <= status < 300 else f"{self.url} answered {status}"


class CollectorProcessProbe:
    """Healthy when the process runs `spotify-mcp collector` and can still be scheduled."""

    def __init__(self, pid: int = 1, proc: Path = Path("/proc")) -> None:
        self.pid = pid
        self.proc = proc

    def check(self) -> str | None:
        """None when healthy, else the reason."""
        base = self.proc / str(self.pid)
        try:
            argv = (base / "cmdline").read_bytes().split(b"\0")
            stat = (base / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return f"no process {self.pid}"
        if b"collector" not in argv:
            return f"process {self.pid} is not the collector"
        # The state follows the command name, which is in parentheses and may hold spaces.
        state = stat.rpartition(")")[2].split()[0] if ")" in stat else "?"
        if state in _DEAD_STATES:
            return f"collector process {self.pid} is in state {state}"
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen check; exit status 0 when healthy."""
    parser = argparse.ArgumentParser(description="Container health checks.")
    parser.add_argument("target", help="an http(s) URL to GET, or `collector`")
    parser.add_argument("--pid", type=int, default=1, help="collector process ID (default 1)")
    args = parser.parse_args(argv)
    probe = (
        CollectorProcessProbe(args.pid) if args.target == "collector" else HttpProbe(args.target)
    )
    reason = probe.check()
    if reason is not None:
        print(f"unhealthy: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
