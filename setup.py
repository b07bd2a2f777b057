"""Package discovery for the one ``ftc`` namespace (the metadata lives in pyproject.toml).

The source folders are fixed at the top level (``compiler/``, ``runtime/``, ``grammar/``) but install
as ``ftc.compiler``, ``ftc.runtime``, ``ftc.grammar``, with ``compiler/shared/`` as ``ftc.shared``:
the small module both the compiler and the runtime import. setuptools' own discovery cannot add
the ``ftc.`` prefix, so it runs per folder here and the prefix is added.
"""

from setuptools import find_packages, setup

ROOTS = {"compiler": "ftc.compiler", "runtime": "ftc.runtime", "grammar": "ftc.grammar"}


def discover() -> list[str]:
    packages = []
    for folder, name in ROOTS.items():
        packages.append(name)
        for sub in find_packages(where=folder):
            # compiler/shared installs as ftc.shared, not ftc.compiler.shared.
            packages.append("ftc." + sub if folder == "compiler" and sub.split(".")[0] == "shared" else f"{name}.{sub}")
    return packages


setup(packages=discover())
