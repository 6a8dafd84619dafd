"""Maps the top-level folders onto the single import package `costline`.

pyproject.toml holds the metadata; this file only lists the packages, because
setuptools' `packages.find` cannot discover subpackages of remapped folders.
"""

from pathlib import Path

from setuptools import setup

ROOTS = {"costline": "costline", "costline.instrumentation": "instrumentation", "costline.processor": "processor"}


def _packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        for init in sorted(Path(folder).rglob("__init__.py")):
            rel = init.parent.relative_to(folder).parts
            found.append(".".join((name, *rel)))
    return found


setup(packages=_packages(), package_dir=ROOTS)
