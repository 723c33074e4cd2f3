"""Collected static files: JavaScript modules import each other by their hashed names."""

import gzip
import json
from pathlib import Path


def test_collected_live_scripts_import_the_collected_live_notice(collected_static: Path) -> None:
    static = collected_static / "static"
    hashed = json.loads((static / "staticfiles.json").read_text())["paths"]
    notice = Path(hashed["sala/live_notice.js"]).name
    assert notice != "live_notice.js"

    for script in ("sala/live.js", "sala/forum_live.js"):
        text = (static / hashed[script]).read_text()
        assert f'from "./{notice}";' in text, script
        assert "live_notice.js" not in text, script
        # The compressed copy WhiteNoise serves to most browsers says the same.
        compressed = gzip.decompress((static / f"{hashed[script]}.gz").read_bytes()).decode()
        assert compressed == text
