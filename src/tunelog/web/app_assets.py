"""Our static files and plotly.js, read for serving or for inlining into an exported report."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from markupsafe import Markup

from tunelog.errors import UsageError

STATIC_DIR = Path(__file__).parent / "static"
_CLOSE_TAG = re.compile(r"</(script|style)", re.IGNORECASE)


def plotly_js() -> bytes:
    """plotly.js from the installed ``plotly`` package (never a copy in our repository).

    Raises:
        UsageError: plotly is not installed.
    """
    try:
        return (resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        raise UsageError(
            "The dashboard's charts need the 'plotly' package: pip install plotly (it ships plotly.js)."
        ) from None


def inline_script(name: str) -> Markup:
    """A script or stylesheet's text, safe to place inside ``<script>``/``<style>``: any closing tag
    in it is written ``<\\/script`` (the same string to JavaScript, never the end of the element)."""
    text = plotly_js().decode("utf-8") if name == "plotly" else (STATIC_DIR / name).read_text("utf-8")
    return Markup(_CLOSE_TAG.sub(lambda m: "<\\/" + m.group(1), text))
