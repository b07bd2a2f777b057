"""report.md and report.html: the verdict first, then the numbers and charts behind it.

Charts are matplotlib (Agg, no display needed): the loss curve, baseline vs tuned per expect
(with the bar marked) and the data funnel. report.html embeds them as base64 PNGs so it is one
self-contained file; report.md links the same PNGs written next to it.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from ftc.shared import atomic
from ftc.shared.contract import expect_id

_COLOURS = {"promoted": "#1a7f37", "prompt is the deliverable": "#0969da", "not promoted": "#cf222e"}


def write_reports(folder: Path, info: dict) -> None:
    charts = {name: png for name, png in _charts(info).items() if png}
    for name, png in charts.items():
        atomic.write_bytes(folder / f"{name}.png", png)
    atomic.write_text(folder / "report.md", render_markdown(info, list(charts)))
    atomic.write_text(folder / "report.html", render_html(info, charts))


# -- text ------------------------------------------------------------------------------------
def headline(info: dict) -> str:
    gate = info["gate"]
    verdict = gate["verdict"].upper()
    if info["promoted_tune"]:
        return f"{verdict}: the {info.get('method') or 'tuned'} tune of {info.get('model')} beats the prompted baseline"
    if gate["verdict"] == "prompt is the deliverable":
        return f"{verdict}: the prompted baseline already meets every expect, so nothing was trained"
    if info["trained"]:
        return f"{verdict}: the tune did not prove it beats the prompted baseline"
    return f"{verdict}: the prompted baseline misses the bar and no tune ran"


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _expect_rows(info: dict) -> list[list[str]]:
    checks = {c.get("expect"): c for c in info["gate"].get("checks", [])}
    metrics = info["metrics"]
    rows = []
    for e in metrics.get("expects", []):
        label = e["label"]
        check = checks.get(expect_id(e), {})
        ok = check.get("bar_ok") and check.get("margin_ok", True)
        rows.append([label, f"{e['op']} {e['threshold']:g}", _fmt(metrics["baseline"].get(label)),
                     _fmt(metrics["tuned"].get(label)), _fmt(check.get("margin_required")), "pass" if ok else "fail"])
    return rows


_EXPECT_HEAD = ["expect", "bar", "baseline", "tuned", "needed for margin", "result"]


def _forgetting(info: dict) -> str:
    ppl = info["metrics"]["perplexity"]
    before, after = ppl.get("before"), ppl.get("after")
    if before is None or after is None:
        return f"General-text perplexity (forgetting check): before {_fmt(before)}; no tune was evaluated."
    flag = " - rose more than 10 %: possible forgetting" if after > before * 1.10 else " - no sign of forgetting"
    return f"General-text perplexity (forgetting check): before {before:.2f}, after {after:.2f}{flag}."


def _train_lines(info: dict) -> list[str]:
    t = info.get("train")
    if not t:
        return ["No training ran."]
    lines = [f"Method {t.get('method')}, {t.get('global_step')} optimiser steps, {t.get('train_tokens')} tokens, "
             f"{t.get('train_seconds')} s ({t.get('tokens_per_second')} tokens/s), {t.get('train_rows')} training rows."]
    if t.get("resumed_from_step"):
        lines.append(f"Resumed from checkpoint step {t['resumed_from_step']}.")
    return lines


def render_markdown(info: dict, charts: list[str]) -> str:
    gate = info["gate"]
    out = [f"# ftc run: {info['recipe']}", "", f"**{headline(info)}**", ""]
    out += [f"- {r}" for r in gate["reasons"]] + [""]
    out += ["## Expects", "", "| " + " | ".join(_EXPECT_HEAD) + " |", "|" + "---|" * len(_EXPECT_HEAD)]
    out += ["| " + " | ".join(row) + " |" for row in _expect_rows(info)]
    out += ["", f"Gate rule: {gate.get('rule', '')}.", "", _forgetting(info), ""]
    if info.get("candidate"):
        out += [f"The trained candidate was not exported; it stays in `{info['candidate']}`.", ""]
    out += ["## Training", ""] + _train_lines(info) + [""]
    out += [f"![{name}]({name}.png)" for name in charts] + [""]
    out += ["## The winning prompt", "", "```", info["prompt"].rstrip(), "```", ""]
    out += ["## Steps", "", "| step | status | seconds |", "|---|---|---|"]
    out += [f"| {s['id']} | {s['status']}{' (' + s['reason'] + ')' if s['reason'] else ''} | {s['seconds']} |" for s in info["steps"]]
    out += ["", f"Plan {info['plan_hash']}, run folder `{info['run_dir']}`.", ""]
    return "\n".join(out)


def render_html(info: dict, charts: dict[str, bytes]) -> str:
    gate = info["gate"]
    colour = _COLOURS.get(gate["verdict"], "#57606a")
    esc = html.escape
    rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in _expect_rows(info))
    steps = "".join(f"<tr><td>{esc(s['id'])}</td><td>{esc(s['status'])}</td><td>{esc(s['reason'])}</td>"
                    f"<td>{s['seconds']}</td></tr>" for s in info["steps"])
    imgs = "".join(f'<figure><img alt="{esc(n)}" src="data:image/png;base64,{base64.b64encode(p).decode()}">'
                   f"<figcaption>{esc(n.replace('_', ' '))}</figcaption></figure>" for n, p in charts.items())
    reasons = "".join(f"<li>{esc(r)}</li>" for r in gate["reasons"])
    candidate = (f"<p>The trained candidate was not exported; it stays in <code>{esc(info['candidate'])}</code>.</p>"
                 if info.get("candidate") else "")
    train = "".join(f"<p>{esc(line)}</p>" for line in _train_lines(info))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ftc run: {esc(info['recipe'])}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; color: #1f2328; }}
.verdict {{ background: {colour}; color: white; padding: 1em 1.2em; border-radius: 8px; font-size: 1.3em; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #d0d7de; padding: .3em .7em; text-align: left; }}
figure {{ display: inline-block; margin: .5em; }} img {{ max-width: 460px; }} pre {{ background: #f6f8fa; padding: 1em; white-space: pre-wrap; }}
</style></head><body>
<h1>ftc run: {esc(info['recipe'])}</h1>
<div class="verdict" id="verdict">{esc(headline(info))}</div>
<ul>{reasons}</ul>
<h2>Expects</h2>
<table><tr>{''.join(f'<th>{esc(h)}</th>' for h in _EXPECT_HEAD)}</tr>{rows}</table>
<p>Gate rule: {esc(gate.get('rule', ''))}.</p>
<p>{esc(_forgetting(info))}</p>
{candidate}
<h2>Charts</h2>{imgs}
<h2>Training</h2>{train}
<h2>The winning prompt</h2><pre>{esc(info['prompt'])}</pre>
<h2>Data</h2><pre>{esc(_data_text(info))}</pre>
<h2>Steps</h2><table><tr><th>step</th><th>status</th><th>why</th><th>seconds</th></tr>{steps}</table>
<p>Plan {esc(info['plan_hash'])}, run folder <code>{esc(info['run_dir'])}</code>; model {esc(str(info.get('model')))}, strategy {esc(', '.join(info.get('strategy') or []))}.</p>
</body></html>
"""


def _data_text(info: dict) -> str:
    stages = (info.get("data") or {}).get("stages") or []
    return "\n".join(f"{s['name']:>18}: {s['rows']}" for s in stages) or "no data report"


# -- charts ----------------------------------------------------------------------------------
def _charts(info: dict) -> dict[str, bytes | None]:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    return {
        "baseline_vs_tuned": _bars_chart(info),
        "loss_curve": _loss_chart(info.get("history") or []),
        "data_funnel": _funnel_chart((info.get("data") or {}).get("stages") or []),
    }


def _png(fig) -> bytes:  # noqa: ANN001 - a matplotlib Figure
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _bars_chart(info: dict) -> bytes | None:
    import matplotlib.pyplot as plt

    metrics = info["metrics"]
    expects = [e for e in metrics.get("expects", []) if e["metric"] != "perplexity"]
    if not expects:
        return None
    labels = [e["label"] for e in expects]
    base = [metrics["baseline"].get(lbl) or 0.0 for lbl in labels]
    tuned = [metrics["tuned"].get(lbl) or 0.0 for lbl in labels]
    fig, ax = plt.subplots(figsize=(6.4, 0.6 + 0.55 * len(labels)))
    ys = range(len(labels))
    ax.barh([y + 0.2 for y in ys], base, height=0.38, label="prompted baseline", color="#8c959f")
    if info["trained"]:
        ax.barh([y - 0.2 for y in ys], tuned, height=0.38, label="tuned", color=_COLOURS.get(info["gate"]["verdict"], "#0969da"))
    for y, e, b, t in zip(ys, expects, base, tuned):
        ax.plot([e["threshold"]] * 2, [y - 0.45, y + 0.45], color="black", lw=1.5)
        ax.text(b, y + 0.2, f" {b:.2f}", va="center", fontsize=8)
        if info["trained"]:
            ax.text(t, y - 0.2, f" {t:.2f}", va="center", fontsize=8)
    ax.set_yticks(list(ys), labels)
    ax.set_xlim(0, 1.12)
    ax.invert_yaxis()
    ax.set_title("baseline vs tuned per expect (black line: the bar)")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _loss_chart(history: list[dict]) -> bytes | None:
    import matplotlib.pyplot as plt

    train = [(h["step"], h["loss"]) for h in history if "loss" in h and "step" in h]
    val = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h and "step" in h]
    if not train:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    ax.plot(*zip(*train), label="train loss (completion tokens)", color="#0969da")
    if val:
        ax.plot(*zip(*val), "o-", label="validation loss", color="#bf8700")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("loss")
    ax.set_title("loss curve")
    ax.legend(fontsize=8)
    return _png(fig)


def _funnel_chart(stages: list[dict]) -> bytes | None:
    import matplotlib.pyplot as plt

    if not stages:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 0.6 + 0.4 * len(stages)))
    names = [s["name"] for s in stages]
    rows = [s["rows"] for s in stages]
    ax.barh(names, rows, color="#6e7781")
    for y, n in enumerate(rows):
        ax.text(n, y, f" {n}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_title("data funnel (rows per stage)")
    return _png(fig)
