"""MkDocs hooks: the documentation pages link to benchmark tables, study files and
examples by their place in the repository (``../benchmarks/results/x.md``), so the
links work when the pages are read on a forge. The site serves those files at the
same repository paths and drops the one ``../`` that leaves ``docs/``."""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
SERVED = ("benchmarks/results", "benchmarks/studies", "benchmarks/configs", "examples")
SUFFIXES = {".md", ".csv", ".png", ".toml", ".py"}


def on_files(files: Files, config) -> Files:
    for folder in SERVED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts:
                files.append(File(path.relative_to(ROOT).as_posix(), str(ROOT), config["site_dir"],
                                  config["use_directory_urls"]))
    return files


def on_page_markdown(markdown: str, page, config, files: Files) -> str:
    if page.file.src_uri.startswith(SERVED):
        return markdown  # served at its repository path: its relative links hold as they are
    up = "../" * page.file.src_uri.count("/")
    pattern = r"\]\(" + re.escape("../" + up) + r"(?=(?:benchmarks|examples)/)"
    return re.sub(pattern, "](" + up, markdown)
