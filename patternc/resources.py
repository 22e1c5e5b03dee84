"""Text files the compiler ships with: the grammar and the kernel templates.

An installed wheel carries them as the packages `patternc.grammar` and
`patternc.templates` (pyproject maps the repository's top-level `grammar/` and
`templates/` there); a checkout keeps them next to the `patternc/` package.
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path

PACKAGE_DIRS = ("grammar", "templates")


def read_text(package_dir: str, name: str) -> str:
    """The text of `name` from `grammar/` or `templates/`, installed or in a checkout."""
    if package_dir not in PACKAGE_DIRS:
        raise ValueError(f"unknown resource directory {package_dir!r}; expected one of {PACKAGE_DIRS}")
    installed = _installed(package_dir, name)
    if installed is not None:
        return installed
    return (Path(__file__).resolve().parent.parent / package_dir / name).read_text(encoding="utf-8")


def _installed(package_dir: str, name: str) -> str | None:
    try:
        resource = importlib.resources.files(f"patternc.{package_dir}").joinpath(name)
        if resource.is_file():
            return resource.read_text(encoding="utf-8")
    except (ModuleNotFoundError, TypeError, OSError):
        pass  # running from a checkout: no such subpackage
    return None
