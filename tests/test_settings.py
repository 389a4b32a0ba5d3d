"""Settings: the default data directory agrees with platformdirs."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from tunelog.settings import Settings, _default_dir


@pytest.mark.parametrize(
    "env",
    [
        {"HOME": "/home/someone"},
        {"HOME": "/home/someone/", "XDG_DATA_HOME": ""},
        {"HOME": "/home/someone", "XDG_DATA_HOME": "/data/xdg"},
        {"HOME": "/home/someone", "XDG_DATA_HOME": "relative/xdg"},
    ],
)
def test_default_dir_is_platformdirs_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _default_dir() == Path(platformdirs.user_data_dir("tunelog", appauthor=False))


def test_resolve_without_tunelog_dir_uses_the_default_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    settings = Settings.resolve(environ={})
    assert settings.dir == Path(platformdirs.user_data_dir("tunelog", appauthor=False))
    assert settings.with_(entity="other").entity == "other" and settings.with_().dir == settings.dir
