"""Helpers for the tests that start Spark daemons on 127.0.0.1 (cluster, Connect server)."""

from __future__ import annotations

import os
import socket
import subprocess


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a daemon and what it started (its process group): TERM, then KILL."""
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=30)
