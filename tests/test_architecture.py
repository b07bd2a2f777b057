"""The import contract, read from the source with an AST walk (lazy imports inside functions count):

    ftc.compiler.cli  ->  ftc.runtime  ->  ftc.shared  <-  ftc.compiler (lang <- plan)

- ftc.shared imports nothing else of ftc, and no heavy library;
- the compiler (outside cli) never imports the runtime nor any torch-family library, even lazily;
- lang never imports plan or cli; plan never imports cli;
- the runtime never imports the compiler;
- no module imports another module's private (underscore) name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "bitsandbytes",
    "datasets",
    "accelerate",
    "sentence_transformers",
    "faiss",
)


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[:2] == ["compiler", "shared"]:
        parts = ["shared", *parts[2:]]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["ftc", *parts])


def sources() -> list[Path]:
    return sorted(p for top in ("compiler", "runtime", "grammar") for p in (REPO / top).rglob("*.py"))


def imports(path: Path, me: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, imported module, names) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = me.split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base, tuple(a.name for a in node.names)))
    return found


def layer(module: str) -> str:
    for prefix in (
        "ftc.compiler.cli",
        "ftc.compiler.lang",
        "ftc.compiler.plan",
        "ftc.compiler",
        "ftc.runtime",
        "ftc.shared",
        "ftc.grammar",
    ):
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return "external"


FORBIDDEN = {
    "ftc.shared": ("ftc.compiler", "ftc.runtime", *HEAVY),
    "ftc.compiler.lang": ("ftc.compiler.plan", "ftc.compiler.cli", "ftc.runtime", *HEAVY),
    "ftc.compiler.plan": ("ftc.compiler.cli", "ftc.runtime", *HEAVY),
    "ftc.compiler": ("ftc.compiler.cli", "ftc.runtime", *HEAVY),
    "ftc.runtime": ("ftc.compiler",),
    "ftc.compiler.cli": (*HEAVY,),
}


def violations(path: Path, me: str) -> list[str]:
    out = []
    banned = FORBIDDEN.get(layer(me), ())
    for line, target, names in imports(path, me):
        where = f"{path.name}:{line}"
        if any(target == b or target.startswith(b + ".") for b in banned):
            out.append(f"{where}: {me} imports {target}")
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if target.startswith("ftc.") and private and target != me:
            out.append(f"{where}: imports private {', '.join(private)} from {target}")
    return out + private_attributes(path)


def private_attributes(path: Path) -> list[str]:
    """``module._name`` where ``module`` is an ftc module bound by an import in this file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ftc"):
            bound |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            bound |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.startswith("ftc.")}
    return [
        f"{path.name}:{node.lineno}: uses private {node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in bound
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
    ]


def test_the_import_contract_holds() -> None:
    found = [v for path in sources() for v in violations(path, module_name(path))]
    assert found == []


@pytest.mark.parametrize(
    "snippet, expected",
    [
        ("from ftc.runtime.executor import Executor\n", "imports ftc.runtime.executor"),
        ("def f():\n    import torch\n", "imports torch"),
        ("from ftc.compiler.plan.facts import _hidden\n", "imports private _hidden"),
        ("from ..plan import facts\n", "imports ftc.compiler.plan"),
        ("from ftc.compiler.lang import parser\nparser._cache()\n", "uses private parser._cache"),
    ],
)
def test_the_checker_sees_a_violation(snippet: str, expected: str, tmp_path: Path) -> None:
    """The contract test can fail: a lang module with each kind of bad import is reported."""
    probe = tmp_path / "probe.py"
    probe.write_text(snippet, encoding="utf-8")
    found = violations(probe, "ftc.compiler.lang.probe")
    assert any(expected in v for v in found), found


def test_the_core_install_pulls_no_training_library() -> None:
    """`pip install ftc` (lint, fmt, plan, import) must not pull torch: the runtime is the `run` extra."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {
        dep.split(">")[0].split("=")[0].split("<")[0].strip().lower().replace("-", "_")
        for dep in project["dependencies"]
    }
    heavy = {name.replace("-", "_") for name in (*HEAVY, "sentence-transformers", "faiss-cpu", "gguf", "safetensors")}
    assert not core & heavy
    run = " ".join(project["optional-dependencies"]["run"])
    assert all(name in run for name in ("torch", "transformers", "peft", "trl", "datasets", "accelerate"))
