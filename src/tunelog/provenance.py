"""Where a run came from: git commit and dirty flag, command line, Python, packages, host.

Gathered on a thread of its own after ``init`` returns (git alone costs tens of milliseconds). That
thread competes with the program's own threads (and tunelog's writer) for the GIL, so it keeps its
CPU time small: package versions come from directory names rather than ``importlib.metadata``.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from typing import Any

from tunelog.liveness import this_host

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
    # One rev-parse answers three questions (a line each): every git process costs milliseconds.
    revs = _git(["rev-parse", "HEAD", "--abbrev-ref", "HEAD", "--show-toplevel"], where)
    if revs is None or len(revs.splitlines()) != 3:
        return None
    commit, branch, root = revs.splitlines()
    status = _git(["status", "--porcelain", "--untracked-files=no"], where)
    remote = _git(["remote", "get-url", "origin"], where)
    if remote and "@" in remote and "://" in remote:
        # Never store credentials embedded in a remote URL.
        scheme, rest = remote.split("://", 1)
        remote = f"{scheme}://{rest.split('@', 1)[1]}"
    return {
        "commit": commit,
        "branch": branch,
        "dirty": bool(status),
        "remote": remote,
        "root": root,
    }


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def package_versions() -> dict[str, str]:
    """The installed versions of the packages in ``_PACKAGES``, as ``importlib.metadata`` finds them.

    Installers name a package's metadata directory ``<name>-<version>.dist-info``, so one listing
    of each ``sys.path`` folder finds them all, the first on the path winning, as in Python's own
    lookup. ``importlib.metadata`` costs ~40 ms of CPU here (its import, and parsing every METADATA
    file as e-mail); it is used only for what a listing cannot settle (eggs, zipped path entries).
    """
    wanted = {_normalized(n): n for n in _PACKAGES}
    out: dict[str, str] = {}
    unsettled: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except NotADirectoryError:  # a zip file on the path
            unsettled.update(n for n in _PACKAGES if n not in out)
            continue
        except OSError:
            continue
        for file_name in names:
            stem, dot, kind = file_name.rpartition(".")
            if kind not in ("dist-info", "egg-info", "egg") or not dot:
                continue
            name, _, version = stem.partition("-")
            package = wanted.get(_normalized(name))
            if package is None or package in out or package in unsettled:
                continue
            if kind == "dist-info" and version:
                out[package] = version
            else:  # an egg's name may not carry its version
                unsettled.add(package)
    if unsettled:
        from importlib import metadata

        for name in sorted(unsettled):
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
        "host": this_host(),
        "os": platform.platform(),
        "pid": os.getpid(),
    }
