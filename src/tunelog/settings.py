"""Settings: resolved once (arguments > environment > defaults) and passed down, never re-read."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, NamedTuple

from tunelog.errors import UsageError

Mode = Literal["online", "disabled"]
_MODES: tuple[Mode, ...] = ("online", "disabled")
DEFAULT_UI_URL = "http://127.0.0.1:8765"


def _default_dir() -> Path:
    """The per-user data directory, as ``platformdirs.user_data_dir("tunelog")`` names it."""
    home = os.environ.get("HOME", "")
    if (
        sys.platform == "linux"
        and not hasattr(sys, "getandroidapilevel")
        and not os.environ.get("XDG_DATA_HOME")
        and os.path.isabs(home)
    ):
        # The plain Linux case, which the XDG spec fixes: importing platformdirs (it pulls in
        # tempfile and random) would cost the first init 10-20 ms. Anything else asks platformdirs.
        return Path(home, ".local", "share", "tunelog")
    import platformdirs

    return Path(platformdirs.user_data_dir("tunelog", appauthor=False))


def _default_entity() -> str:
    import getpass  # lazily: only when TUNELOG_ENTITY is unset

    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no USER variable
        name = "user"
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name) or "user"


class Settings(NamedTuple):
    """Where tunelog keeps things and who is writing. Immutable: ``with_`` makes a changed copy.

    A NamedTuple rather than a dataclass: the first ``init`` defines it, and a dataclass costs
    ~1 ms to create (and ``dataclasses`` ~5 ms to import).

    Attributes:
        dir: the data directory: ``tunelog.db`` (SQLite) and ``blobs/`` live here.
        entity: the default entity (user or team) for runs and artifacts.
        mode: ``"online"`` records; ``"disabled"`` turns every call into a cheap no-op that writes
            nothing to ``dir`` (artifacts live in memory for the process).
        ui_url: the dashboard's base URL, used to print run and artifact links.
    """

    dir: Path
    entity: str
    mode: Mode = "online"
    ui_url: str = DEFAULT_UI_URL

    @property
    def store_url(self) -> str:
        return "memory://" if self.mode == "disabled" else f"sqlite:///{self.dir / 'tunelog.db'}"

    @property
    def blobs_url(self) -> str:
        return "memory://" if self.mode == "disabled" else (self.dir / "blobs").as_uri()

    def with_(self, **changes: object) -> Settings:
        return self._replace(**changes)  # type: ignore[arg-type]

    @classmethod
    def resolve(
        cls,
        *,
        dir: str | os.PathLike[str] | None = None,
        entity: str | None = None,
        mode: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from explicit arguments, then ``TUNELOG_*`` variables, then defaults."""
        env = os.environ if environ is None else environ
        raw_mode = (mode or env.get("TUNELOG_MODE") or "online").lower()
        if raw_mode in ("offline", "local"):
            raw_mode = "online"  # everything is local already; accept the words users bring from wandb
        if raw_mode not in _MODES:
            raise UsageError(
                f"Unknown tunelog mode {raw_mode!r}. Set TUNELOG_MODE (or mode=) to 'online' or 'disabled'."
            )
        data_dir = dir or env.get("TUNELOG_DIR")
        return cls(
            dir=Path(data_dir).expanduser().resolve() if data_dir else _default_dir(),
            entity=entity or env.get("TUNELOG_ENTITY") or _default_entity(),
            mode=raw_mode,  # type: ignore[arg-type]
            ui_url=(env.get("TUNELOG_UI_URL") or DEFAULT_UI_URL).rstrip("/"),
        )

    def run_url(self, entity: str, project: str, run_id: str) -> str:
        """The dashboard address of a run: ``{ui}/{entity}/{project}/runs/{run_id}``."""
        return f"{self.ui_url}/{entity}/{project}/runs/{run_id}"

    def artifact_url(self, entity: str, project: str, name: str, version: str) -> str:
        """The dashboard address of an artifact version."""
        return f"{self.ui_url}/{entity}/{project}/artifacts/{name}/{version}"
