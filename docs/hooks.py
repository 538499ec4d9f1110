"""mkdocs hook: the solver pages (solver/<name>.md) are generated from the code at every build.

``docs/make_solver_pages.py`` writes them (update rule from the docstring, counted cost, the x*y
step-size scan, the options with the errors the code raises); this hook adds them to the site
as generated files, so they can never disagree with the code they describe.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.structure.files import File

sys.path.insert(0, str(Path(__file__).parent))
import make_solver_pages  # noqa: E402


def on_files(files, config):
    for name, text in make_solver_pages.pages().items():
        files.append(File.generated(config, f"solver/{name}.md", content=text))
    return files
