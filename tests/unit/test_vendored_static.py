"""The pages' script is the npm package pinned in package.json, committed with its licence (no CDN, no npm to run)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).parents[2]
VENDOR = ROOT / "parcours" / "http" / "web" / "static" / "vendor"


def test_the_committed_htmx_is_the_pinned_version_with_its_licence():
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["htmx.org"]
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/htmx.org"]["version"]
    script = (VENDOR / "htmx.min.js").read_text(encoding="utf-8")
    assert pinned == locked and f'version:"{pinned}"' in script.replace(" ", "")
    assert "Zero-Clause BSD" in (VENDOR / "htmx.LICENSE").read_text()
    installed = ROOT / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
    if installed.exists():  # after make setup: the copy is byte for byte the package's file
        assert installed.read_bytes() == (VENDOR / "htmx.min.js").read_bytes()


def test_the_layout_loads_only_scripts_served_by_the_app():
    layout = (ROOT / "parcours" / "http" / "web" / "pages" / "staff" / "layout.html").read_text()
    assert "http://" not in layout and "https://" not in layout and "vendor/htmx.min.js" in layout
