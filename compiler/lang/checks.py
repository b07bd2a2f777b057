"""Semantic checks (FTR1xx): syntax tree -> ``compiler.lang.recipe.Recipe``, reporting every error.

The grammar accepts any block, key and value; the key table (``compiler.lang.keys``) says which
exist, what type and unit each value has, which ranges are sane and what is required. This module
walks the blocks and builds the recipe; the checks are split by concern: values
(``check_values``), data sources (``check_sources``), the eval block (``check_eval``). It never
stops at the first problem: every attribute is checked and every finding reported. The recipe
model is built only from a tree without errors.
"""

from __future__ import annotations

from ftc.compiler.lang import ast
from ftc.compiler.lang.check_base import Checked, Context, find_project_root
from ftc.compiler.lang.check_eval import build_eval, check_statement
from ftc.compiler.lang.check_sources import check_sources, check_weights
from ftc.compiler.lang.check_values import CONVERTERS
from ftc.compiler.lang.keys import ALIASES, BLOCKS, CHILDREN, NAME_RE, BlockSpec
from ftc.compiler.lang.recipe import (
    Constraints,
    DistillSpec,
    ExportSpec,
    Goal,
    ModelRef,
    Recipe,
    Span,
    SynthesizeSpec,
    TrainOverrides,
)
from ftc.compiler.lang.suggest import did_you_mean, suggest

__all__ = ["Context", "find_project_root", "check_file", "build_recipe", "check_block"]


def _check_label(ctx: Context, spec: BlockSpec, block: ast.Block) -> None:
    if spec.label and block.label is None:
        ctx.err("FTR114", f'a `{spec.name}` block needs a name: {spec.name} "name" {{ ... }}', block.kind_span)
    elif not spec.label and block.label is not None:
        ctx.err("FTR114", f"a `{spec.name}` block takes no name", block.label.span, f"write `{spec.name} {{ ... }}`")
    elif block.label is not None and not NAME_RE.fullmatch(block.label.value):
        ctx.err(
            "FTR114",
            f"`{block.label.value[:40]}` is not a valid {spec.name} name",
            block.label.span,
            "names use letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit",
        )


def check_block(ctx: Context, spec: BlockSpec, block: ast.Block) -> Checked:
    _check_label(ctx, spec, block)
    out = Checked(spec, block)
    for item in block.items:
        if isinstance(item, ast.Attribute):
            _check_attribute(ctx, out, item)
        elif isinstance(item, ast.Block):
            _check_child(ctx, out, item)
        elif spec.statements:
            check_statement(ctx, out, item)
        else:
            word = "expect" if isinstance(item, ast.Expect) else "beat"
            ctx.err("FTR115", f"`{word}` belongs in the eval block, not in `{spec.name}`", item.span)
    for key in spec.keys:
        if key.required and key.name not in out.nodes:
            ctx.err("FTR106", f"the `{spec.name}` block has no `{key.name}` ({key.doc})", block.kind_span)
    return out


def _check_attribute(ctx: Context, out: Checked, item: ast.Attribute) -> None:
    spec = out.spec
    key = spec.key(item.key)
    if key is None:
        hint: str | None
        fix: str | None = None
        if item.key in BLOCKS:
            hint = f"`{item.key}` is a block: write `{item.key} {{ ... }}`"
        elif spec.name == "documents" and item.key == "format":
            hint = "a documents block always has format = documents; use a data block for other formats"
        else:
            hint, fix = _key_hint(spec, item.key)
        ctx.err("FTR102", f"unknown key `{item.key}` in `{spec.name}`", item.key_span, hint, fix)
        return
    if item.key in out.nodes:
        first = out.nodes[item.key].key_span.line
        ctx.err("FTR107", f"`{item.key}` is set twice in `{spec.name}`", item.key_span, f"the first is on line {first}")
        return
    out.nodes[item.key] = item
    out.values[item.key] = CONVERTERS[key.kind](ctx, key, item.value)


def _key_hint(spec: BlockSpec, key: str) -> tuple[str | None, str | None]:
    """The hint for an unknown key, and the key to write instead when there is one."""
    known = [k.name for k in spec.keys]
    alias = ALIASES.get(key.lower())
    if alias in known:
        return f"ftc calls this `{alias}`", alias
    if key.lower() in known:
        return f"keys are case-sensitive: `{key.lower()}`", key.lower()
    guess = suggest(key, known)
    if guess:
        return guess, did_you_mean(key, known)
    home = [b.name for b in BLOCKS.values() if b.key(alias or key) and b.name != spec.name]
    if home:
        return f"`{alias or key}` belongs in the `{home[0]}` block", None
    return f"`{spec.name}` takes {', '.join(known)}", None


def _check_child(ctx: Context, out: Checked, child: ast.Block) -> None:
    spec = out.spec
    if spec.name != "recipe" or child.kind not in CHILDREN:
        where = "inside a recipe" if child.kind in CHILDREN or child.kind == "recipe" else None
        if where and spec.name != "recipe":
            ctx.err(
                "FTR101",
                f"a `{child.kind}` block cannot go inside `{spec.name}`",
                child.kind_span,
                f"put it directly {where}",
            )
        else:
            hint = suggest(child.kind, CHILDREN) if spec.name == "recipe" else None
            fix = did_you_mean(child.kind, CHILDREN) if hint else None
            if child.kind in (k.name for k in spec.keys):
                hint, fix = f"`{child.kind}` is a key: write `{child.kind} = ...`", None
            ctx.err("FTR101", f"unknown block `{child.kind}` in `{spec.name}`", child.kind_span, hint, fix)
        return
    child_spec = BLOCKS[child.kind]
    if child_spec.singleton and any(c.spec.name == child.kind for c in out.children):
        ctx.err("FTR107", f"a second `{child.kind}` block", child.kind_span, "merge it into the first")
        return
    out.children.append(check_block(ctx, child_spec, child))


def check_file(ctx: Context, tree: ast.RecipeFile) -> Checked | None:
    """Find the one recipe block and check it; everything else at top level is an error."""
    recipe: Checked | None = None
    for item in tree.items:
        if isinstance(item, ast.Block) and item.kind == "recipe":
            if recipe is not None:
                ctx.err("FTR115", "a second recipe in one file", item.kind_span, "one recipe per .ftr file")
                continue
            recipe = check_block(ctx, BLOCKS["recipe"], item)
        else:
            _top_level_error(ctx, item)
    if recipe is None and not any(d.code in ("FTR115", "FTR101") for d in ctx.diags):
        ctx.err(
            "FTR106", "no recipe in this file", Span(ctx.file, 1, 1, 1, 1), 'a recipe starts with `recipe "name" {`'
        )
    return recipe


def _top_level_error(ctx: Context, item: ast.Item) -> None:
    if isinstance(item, ast.Block):
        guess = did_you_mean(item.kind, ["recipe"])
        if guess:
            ctx.err("FTR101", f"unknown block `{item.kind}`", item.kind_span, "did you mean `recipe`?", guess)
            return
        hint = (
            "move it inside the recipe block"
            if item.kind in CHILDREN
            else 'everything lives inside one `recipe "name" { ... }` block'
        )
        ctx.err("FTR115", f"`{item.kind}` outside the recipe block", item.kind_span, hint)
        return
    span = item.key_span if isinstance(item, ast.Attribute) else item.span
    ctx.err(
        "FTR115",
        "a statement outside the recipe block",
        span,
        'everything lives inside one `recipe "name" { ... }` block',
    )


def _child(recipe: Checked, name: str) -> Checked | None:
    return next((c for c in recipe.children if c.spec.name == name), None)


def build_recipe(ctx: Context, recipe: Checked, path: str) -> Recipe | None:
    """Cross-block checks, then the recipe model (None when anything failed)."""
    sources = check_sources(ctx, recipe)
    if not any(c.spec.name in ("data", "documents") for c in recipe.children):
        ctx.err(
            "FTR106",
            "the recipe has no data source",
            recipe.node.kind_span,
            'add a `data "name" { path = ..., format = ... }` or `documents` block',
        )
    eval_block = _child(recipe, "eval")
    if eval_block is None:
        ctx.err(
            "FTR106",
            "the recipe has no eval block",
            recipe.node.kind_span,
            "add `eval { holdout = 20%  expect ... }`: a tune must prove itself",
        )
    names = {s.name for _c, s in sources if s is not None} | {c.node.label.value for c, _s in sources if c.node.label}
    eval_spec = build_eval(ctx, eval_block, names) if eval_block else None
    if all(s is not None for _c, s in sources):  # one failed source would make the mixture look different
        check_weights(ctx, [(c, s) for c, s in sources if s is not None], eval_spec.eval_data if eval_spec else None)
    if ctx.diags or eval_spec is None or any(s is None for _c, s in sources):
        return None
    v = recipe.values
    kind, text, knowledge = v["goal"]
    return Recipe(
        name=recipe.node.label.value,  # type: ignore[union-attr]
        path=path,
        project_root=str(ctx.project_root),
        goal=Goal(kind, text, knowledge, recipe.nodes["goal"].value.span),
        base=ModelRef(v["base"], recipe.nodes["base"].value.span),
        data=tuple(s for _c, s in sources if s is not None),
        constraints=_build_constraints(_child(recipe, "constraints")),
        eval=eval_spec,
        train=_build_train(_child(recipe, "train")),
        export=_build_export(_child(recipe, "export")),
        teacher=ModelRef(v["teacher"], recipe.nodes["teacher"].value.span) if "teacher" in v else None,
        system_prompt=v.get("system_prompt"),
        synthesize=_build_synthesize(_child(recipe, "synthesize")),
        distill=_build_distill(_child(recipe, "distill")),
    )


def _build_constraints(block: Checked | None) -> Constraints:
    if block is None:
        return Constraints()
    v = block.values
    seconds, usd = v.get("budget") or (None, None)
    return Constraints(
        device=block.get("device"),
        gpus=block.get("gpus"),
        processes=v.get("processes"),
        nodes=block.get("nodes"),
        gpu_memory_bytes=v.get("gpu_memory"),
        budget_seconds=seconds,
        budget_usd=usd,
        latency_ms=v["latency"] * 1000 if "latency" in v else None,
        max_params=v.get("max_params"),
        span=block.node.span,
    )


def _build_train(block: Checked | None) -> TrainOverrides:
    if block is None:
        return TrainOverrides()
    spans = {k: node.value.span for k, node in block.nodes.items()}
    for k, node in block.nodes.items():  # each item of a list too (target_modules[1])
        if isinstance(node.value, ast.List):
            spans.update({f"{k}[{i}]": item.span for i, item in enumerate(node.value.items)})
    return TrainOverrides(dict(block.values), block.node.span, spans)


def _build_distill(block: Checked | None) -> DistillSpec:
    if block is None:
        return DistillSpec()
    return DistillSpec(dict(block.values), block.node.span, {k: n.value.span for k, n in block.nodes.items()})


def _build_export(block: Checked | None) -> ExportSpec:
    if block is None:
        return ExportSpec()
    return ExportSpec(merged=block.get("merged"), gguf=block.get("gguf"), span=block.node.span)


def _build_synthesize(block: Checked | None) -> SynthesizeSpec | None:
    if block is None:
        return None
    v = block.values
    teacher = ModelRef(v["teacher"], block.nodes["teacher"].value.span) if "teacher" in v else None
    return SynthesizeSpec(rows=v["rows"], teacher=teacher, seed=v.get("seed"), span=block.node.span)
