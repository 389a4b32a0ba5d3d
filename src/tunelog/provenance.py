"""Where a run came from: git commit and dirty flag, command line, Python, packages, host.

Gathered on the writer thread after ``init`` returns (git alone costs tens of milliseconds).
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from typing import Any

# Packages whose versions explain an OpenAI run; openai's above all.
_PACKAGES = ("openai", "tunelog", "httpx", "httpx2", "pydantic", "tiktoken", "numpy", "pandas", "torch")


def _git(args: list[str], cwd: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_info(cwd: str | None = None) -> dict[str, Any] | None:
    """Commit, branch, remote and dirty flag of the repository around ``cwd``; None outside git."""
    where = cwd or os.getcwd()
    commit = _git(["rev-parse", "HEAD"], where)
    if commit is None:
        return None
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    remote = _git(["remote", "get-url", "origin"], where)
    if remote and "@" in remote and "://" in remote:
        # Never store credentials embedded in a remote URL.
        scheme, rest = remote.split("://", 1)
        remote = f"{scheme}://{rest.split('@', 1)[1]}"
    return {
        "commit": commit,
        "branch": _git(["rev-parse", "--abbrev-ref", "HEAD"], where),
        "dirty": bool(status),
        "remote": remote,
        "root": _git(["rev-parse", "--show-toplevel"], where),
    }


def package_versions() -> dict[str, str]:
    from importlib import metadata  # ~10 ms to import: only on the provenance thread

    out: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def collect(cwd: str | None = None) -> dict[str, Any]:
    """Everything above, JSON-ready."""
    argv = list(sys.argv)
    return {
        "git": git_info(cwd),
        "command": argv,
        "program": argv[0] if argv else None,
        "cwd": cwd or os.getcwd(),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "packages": package_versions(),
        "host": socket.gethostname(),
        "os": platform.platform(),
        "pid": os.getpid(),
    }
