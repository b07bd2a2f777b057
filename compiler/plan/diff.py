"""What changed between two plans, the way ``terraform plan`` shows it, for pull requests.

Both plans are flattened to ``dotted.path -> value`` (lists of records keyed by their id or
name, so a reordered list is not a change); explanations (reasons, sources) are left out so the
diff shows decisions and numbers, not prose.
"""

from __future__ import annotations

# project_root only says where the plan file sits relative to the project, not what was decided.
_SKIP = {"reason", "because", "source", "assumption", "assumptions", "basis", "project_root"}
_KEYED = {"steps": "id", "inputs": "name", "rules": "id", "expects": "label", "warnings": "code"}


def flatten(value: object, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _SKIP:
                continue
            out.update(flatten(item, f"{prefix}.{key}" if prefix else key))
    elif isinstance(value, list) and prefix in _KEYED and all(isinstance(v, dict) for v in value):
        key = _KEYED[prefix]
        for item in value:
            where = f"{prefix}[{item.get(key)}]"
            out[where] = "present"  # so an added or removed record shows even when its fields are prose
            out.update(flatten({k: v for k, v in item.items() if k != key}, where))
    elif isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        out[prefix] = " -> ".join(str(v) for v in value) if prefix == "strategy" else ", ".join(map(str, value))
    else:
        out[prefix] = value
    return out


def _show(path: str, value: object) -> str:
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (path.endswith("_bytes") or "memory_breakdown" in path)
    ):
        return f"{value / 1e9:.2f} GB"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value if len(value) <= 60 else value[:57] + "..."
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def diff_plans(old: dict[str, object], new: dict[str, object]) -> list[tuple[str, str, object, object]]:
    """(sign, path, old, new) for every changed leaf: '+' added, '-' removed, '~' changed."""
    a, b = flatten(old), flatten(new)
    out: list[tuple[str, str, object, object]] = []
    for path in sorted(set(a) | set(b)):
        if path not in a:
            out.append(("+", path, None, b[path]))
        elif path not in b:
            out.append(("-", path, a[path], None))
        elif a[path] != b[path]:
            out.append(("~", path, a[path], b[path]))
    return out


def render_diff(old: dict[str, object], new: dict[str, object], old_name: str = "old plan") -> str:
    changes = diff_plans(old, new)
    if not changes:
        return f"No changes against {old_name}.\n"
    lines = [f"Changes against {old_name}:", ""]
    for sign, path, before, after in changes:
        if sign == "~":
            lines.append(f"  ~ {path}: {_show(path, before)} -> {_show(path, after)}")
        elif sign == "+":
            lines.append(f"  + {path}: {_show(path, after)}")
        else:
            lines.append(f"  - {path}: {_show(path, before)}")
    counts = {s: sum(c[0] == s for c in changes) for s in "+~-"}
    lines += ["", f"Plan: {counts['+']} to add, {counts['~']} to change, {counts['-']} to remove."]
    return "\n".join(lines) + "\n"
