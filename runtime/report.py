"""report.md and report.html: the verdict first, then the numbers and charts behind it.

Charts are matplotlib (Agg, no display needed): the loss curve, baseline vs tuned per expect
(with the bar marked and the 95% interval of the paired difference as error bars on the tuned
bar) and the data funnel. Tables: the expects with difference, interval and p-value; the ladder
(each stage against the one before, on the same rows); the prompt search and the learning-rate
probe when they ran. Every user-provided string is HTML-escaped. report.html embeds them as base64 PNGs so it is one
self-contained file; report.md links the same PNGs written next to it.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from ftc.runtime.report_serving import sections as serving_sections
from ftc.shared import atomic
from ftc.shared.contract import RATE_METRICS, expect_id

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


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}" if value else "0%"


def _interval(c: dict) -> str:
    if c.get("diff") is None or c.get("ci_low") is None:
        return "-"
    return f"{c['diff']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"


def _p(c: dict) -> str:
    return "-" if c.get("p_value") is None else f"{c['p_value']:.3g} ({c.get('test')})"


def _result(check: dict) -> str:
    if not check:
        return "-"
    if check.get("bar_ok") and check.get("margin_ok", True):
        return "pass"
    if check.get("bar_ok") is not False and check.get("point_ok") and not check.get("margin_ok", True):
        return f"not significant on {check.get('n')} rows"
    return "fail"


def _expect_rows(info: dict) -> list[list[str]]:
    """One row per expect: the values, the paired difference with its 95% interval and p-value, the
    value the margin needed and the result. Forgetting is a rise in percent, 0 for the untuned baseline."""
    checks = {c.get("expect"): c for c in info["gate"].get("checks", [])}
    metrics = info["metrics"]
    rows = []
    for e in metrics.get("expects", []):
        label = e["label"]
        check = checks.get(expect_id(e), {})
        base, tuned = metrics["baseline"].get(label), metrics["tuned"].get(label)
        if e["metric"] == "forgetting":
            shown_base = "0% (untuned)"
            shown_tuned = _pct(tuned) if info["trained"] else "no tune: no forgetting"
            bar = f"{e['op']} {e['threshold']:.0%}"
        else:
            shown_base, shown_tuned, bar = _fmt(base), _fmt(tuned), f"{e['op']} {e['threshold']:g}"
        rows.append(
            [
                label,
                bar,
                shown_base,
                shown_tuned,
                _interval(check),
                _p(check),
                _fmt(check.get("margin_required")),
                _result(check),
            ]
        )
    return rows


_EXPECT_HEAD = ["expect", "bar", "baseline", "tuned", "difference [95% CI]", "p (test)", "needed for margin", "result"]


def _forgetting(info: dict) -> str:
    ppl = info["metrics"]["perplexity"]
    before, after = ppl.get("before"), ppl.get("after")
    if before is None or after is None:
        return f"General-text perplexity (forgetting check): before {_fmt(before)}; no tune was evaluated, so nothing was forgotten."
    forgetting = info["metrics"].get("forgetting") or {}
    warn = forgetting.get("warn_over", 0.10)
    rise = after / before - 1 if before else 0.0
    if forgetting.get("expected"):
        flag = " - checked by the recipe's `expect forgetting` (see the table)"
    elif rise > warn:
        flag = f" - rose more than {warn:.0%}: possible forgetting (`expect forgetting <= {warn:.0%}` makes it a check)"
    else:
        flag = " - no sign of forgetting"
    return f"General-text perplexity (forgetting check): before {before:.2f}, after {after:.2f} ({_pct(max(0.0, rise))}){flag}."


# -- the ladder, the prompt search and the lr probe ------------------------------------------
_LADDER_HEAD = ["stage", "against", "rows", "difference [95% CI], p", "helps"]


def _ladder_rows(info: dict) -> list[list[str]]:
    rows = []
    for s in info["metrics"].get("stages") or []:
        if s.get("missing"):
            recall = (s.get("recall_at_k") or {}).get("recall")
            extra = "" if recall is None else f"; retrieval recall@{s['recall_at_k']['k']} {recall:.3f}"
            rows.append([s["stage"], s["against"], "-", f"not measured: {s['missing']}{extra}", "-"])
            continue
        diffs = "; ".join(f"{c['label']} {_interval(c)}, p={_p(c)}" for c in s["checks"]) or "no rate expect"
        recall = s.get("recall_at_k") or {}
        if recall.get("recall") is not None:
            diffs += f"; retrieval recall@{recall['k']} {recall['recall']:.3f} ({recall['hits']} of {recall['rows']} rows naming their source)"
        elif recall:
            diffs += f"; recall@k not measured: {recall.get('why')}"
        helps = {True: "yes", False: "no", None: "-"}[s.get("helps")]
        if s.get("kind") == "reference":
            helps = "(reference)"
        elif s.get("gate"):
            helps += " (the gate's comparison)"
        rows.append([s["stage"], s["against"], str(s.get("rows")), diffs, helps])
    return rows


_SEARCH_HEAD = ["shots", "selection", "validation score", "chosen"]


def _search_rows(info: dict) -> list[list[str]]:
    search = info.get("prompt_search") or {}
    chosen = search.get("chosen") or {}
    return [
        [
            str(c.get("shots")),
            str(c.get("selection")),
            _fmt(c.get("score")),
            "yes" if (c.get("shots"), c.get("selection")) == (chosen.get("shots"), chosen.get("selection")) else "",
        ]
        for c in search.get("candidates") or []
    ]


def _search_line(info: dict) -> str:
    search = info.get("prompt_search") or {}
    return f"Scored on {search.get('validation_rows')} validation rows of train (never the holdout), {search.get('seconds')} s."


_PROBE_HEAD = ["lr", "validation loss", "steps", "stable", "chosen"]


def _probe_rows(info: dict) -> list[list[str]]:
    probe = info.get("lr_probe") or {}
    return [
        [
            f"{t.get('lr'):g}" if isinstance(t.get("lr"), (int, float)) else str(t.get("lr")),
            _fmt(t.get("val_loss")),
            str(t.get("steps")),
            {True: "yes", False: "no"}.get(t.get("stable"), ""),
            "yes" if t.get("lr") == probe.get("chosen") else "",
        ]
        for t in probe.get("tried") or []
    ]


def _probe_line(info: dict) -> str:
    probe = info.get("lr_probe") or {}
    untrained = probe.get("untrained_val_loss")
    before = f" (untrained validation loss {_fmt(untrained)})" if untrained is not None else ""
    why = f" ({probe['why']})" if probe.get("why") else ""
    return (
        f"The rule's lr {probe.get('rule_lr')}, chosen {probe.get('chosen')}{why}{before}; "
        f"{probe.get('validation_rows')} validation rows of train, {probe.get('seconds')} s."
    )


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows
    ]


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    esc = html.escape
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{''.join(f'<th>{esc(h)}</th>' for h in head)}</tr>{body}</table>"


_SYNTH_HEAD = ["dropped because", "rows", "e.g. input"]


def _synth_line(info: dict) -> str:
    s = info["synthesis"]
    return (
        f"Teacher {s.get('teacher')} wrote {s.get('generated')} of {s.get('requested')} requested rows, seeded by "
        f"{s.get('real_rows')} real train rows: {s.get('kept')} kept and added to train, {s.get('dropped')} dropped. "
        "The holdout holds real rows only."
    )


def _synth_rows(info: dict) -> list[list[str]]:
    s = info.get("synthesis") or {}
    examples = s.get("examples") or {}
    return [
        [reason, str(n), " ".join(str((examples.get(reason) or [{}])[0].get("input") or "-").split())[:80]]
        for reason, n in sorted((s.get("reasons") or {}).items())
    ]


def _extra_sections_md(info: dict) -> list[str]:
    out: list[str] = []
    if info.get("synthesis"):
        out += ["## Synthetic data", "", _synth_line(info), ""]
        out += (_md_table(_SYNTH_HEAD, _synth_rows(info)) + [""]) if _synth_rows(info) else []
    if _ladder_rows(info):
        out += ["## The ladder: each stage against the one before, on the same rows", ""]
        out += _md_table(_LADDER_HEAD, _ladder_rows(info)) + [""]
    if _search_rows(info):
        out += ["## Prompt search", "", _search_line(info), ""] + _md_table(_SEARCH_HEAD, _search_rows(info)) + [""]
    if _probe_rows(info):
        out += ["## Learning-rate probe", "", _probe_line(info), ""] + _md_table(_PROBE_HEAD, _probe_rows(info)) + [""]
    for title, line, head, rows in serving_sections(info):
        out += [f"## {title}", "", line, ""] + (_md_table(head, rows) + [""] if rows else [])
    return out


def _extra_sections_html(info: dict) -> str:
    esc = html.escape
    out = ""
    if info.get("synthesis"):
        out += f"<h2>Synthetic data</h2><p>{esc(_synth_line(info))}</p>"
        out += _html_table(_SYNTH_HEAD, _synth_rows(info)) if _synth_rows(info) else ""
    if _ladder_rows(info):
        out += "<h2>The ladder: each stage against the one before, on the same rows</h2>" + _html_table(
            _LADDER_HEAD, _ladder_rows(info)
        )
    if _search_rows(info):
        out += f"<h2>Prompt search</h2><p>{esc(_search_line(info))}</p>" + _html_table(_SEARCH_HEAD, _search_rows(info))
    if _probe_rows(info):
        out += f"<h2>Learning-rate probe</h2><p>{esc(_probe_line(info))}</p>" + _html_table(
            _PROBE_HEAD, _probe_rows(info)
        )
    for title, line, head, rows in serving_sections(info):
        out += f"<h2>{esc(title)}</h2><p>{esc(line)}</p>" + (_html_table(head, rows) if rows else "")
    return out


def _train_lines(info: dict) -> list[str]:
    t = info.get("train")
    if not t:
        return ["No training ran."]
    lines = [
        f"Method {t.get('method')}, {t.get('global_step')} optimiser steps, {t.get('train_tokens')} tokens, "
        f"{t.get('train_seconds')} s ({t.get('tokens_per_second')} tokens/s), {t.get('train_rows')} training rows."
    ]
    if t.get("resumed_from_step"):
        lines.append(f"Resumed from checkpoint step {t['resumed_from_step']}.")
    return lines


def render_markdown(info: dict, charts: list[str]) -> str:
    gate = info["gate"]
    out = [f"# ftc run: {info['recipe']}", "", f"**{headline(info)}**", ""]
    out += [f"- {r}" for r in gate["reasons"]] + [""]
    out += ["## Expects", ""] + _md_table(_EXPECT_HEAD, _expect_rows(info))
    out += ["", f"Gate rule: {gate.get('rule', '')}.", "", _forgetting(info), ""]
    out += _extra_sections_md(info)
    if info.get("candidate"):
        out += [f"The trained candidate was not exported; it stays in `{info['candidate']}`.", ""]
    out += ["## Training", ""] + _train_lines(info) + [""]
    out += [f"![{name}]({name}.png)" for name in charts] + [""]
    out += ["## The winning prompt", "", "```", info["prompt"].rstrip(), "```", ""]
    out += ["## Steps", "", "| step | status | seconds |", "|---|---|---|"]
    out += [
        f"| {s['id']} | {s['status']}{' (' + s['reason'] + ')' if s['reason'] else ''} | {s['seconds']} |"
        for s in info["steps"]
    ]
    out += ["", f"Plan {info['plan_hash']}, run folder `{info['run_dir']}`.", ""]
    return "\n".join(out)


def render_html(info: dict, charts: dict[str, bytes]) -> str:
    gate = info["gate"]
    colour = _COLOURS.get(gate["verdict"], "#57606a")
    esc = html.escape
    steps = "".join(
        f"<tr><td>{esc(s['id'])}</td><td>{esc(s['status'])}</td><td>{esc(s['reason'])}</td><td>{s['seconds']}</td></tr>"
        for s in info["steps"]
    )
    imgs = "".join(
        f'<figure><img alt="{esc(n)}" src="data:image/png;base64,{base64.b64encode(p).decode()}">'
        f"<figcaption>{esc(n.replace('_', ' '))}</figcaption></figure>"
        for n, p in charts.items()
    )
    reasons = "".join(f"<li>{esc(r)}</li>" for r in gate["reasons"])
    candidate = (
        f"<p>The trained candidate was not exported; it stays in <code>{esc(info['candidate'])}</code>.</p>"
        if info.get("candidate")
        else ""
    )
    train = "".join(f"<p>{esc(line)}</p>" for line in _train_lines(info))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ftc run: {esc(info["recipe"])}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; color: #1f2328; }}
.verdict {{ background: {colour}; color: white; padding: 1em 1.2em; border-radius: 8px; font-size: 1.3em; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #d0d7de; padding: .3em .7em; text-align: left; }}
figure {{ display: inline-block; margin: .5em; }} img {{ max-width: 460px; }} pre {{ background: #f6f8fa; padding: 1em; white-space: pre-wrap; }}
</style></head><body>
<h1>ftc run: {esc(info["recipe"])}</h1>
<div class="verdict" id="verdict">{esc(headline(info))}</div>
<ul>{reasons}</ul>
<h2>Expects</h2>
{_html_table(_EXPECT_HEAD, _expect_rows(info))}
<p>Gate rule: {esc(gate.get("rule", ""))}.</p>
<p>{esc(_forgetting(info))}</p>
{_extra_sections_html(info)}
{candidate}
<h2>Charts</h2>{imgs}
<h2>Training</h2>{train}
<h2>The winning prompt</h2><pre>{esc(info["prompt"])}</pre>
<h2>Data</h2><pre>{esc(_data_text(info))}</pre>
<h2>Steps</h2><table><tr><th>step</th><th>status</th><th>why</th><th>seconds</th></tr>{steps}</table>
<p>Plan {esc(info["plan_hash"])}, run folder <code>{esc(info["run_dir"])}</code>; model {esc(str(info.get("model")))}, strategy {esc(", ".join(info.get("strategy") or []))}.</p>
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
    expects = [e for e in metrics.get("expects", []) if e["metric"] in RATE_METRICS]
    if not expects:
        return None
    labels = [e["label"] for e in expects]
    base = [metrics["baseline"].get(lbl) or 0.0 for lbl in labels]
    tuned = [metrics["tuned"].get(lbl) or 0.0 for lbl in labels]
    fig, ax = plt.subplots(figsize=(6.4, 0.6 + 0.55 * len(labels)))
    ys = range(len(labels))
    ax.barh([y + 0.2 for y in ys], base, height=0.38, label="prompted baseline", color="#8c959f")
    if info["trained"]:
        ax.barh(
            [y - 0.2 for y in ys],
            tuned,
            height=0.38,
            label="tuned",
            color=_COLOURS.get(info["gate"]["verdict"], "#0969da"),
            xerr=_error_bars(info, expects, base, tuned),
            error_kw={"ecolor": "black", "capsize": 3, "lw": 1},
        )
    for y, e, b, t in zip(ys, expects, base, tuned):
        ax.plot([e["threshold"]] * 2, [y - 0.45, y + 0.45], color="black", lw=1.5)
        ax.text(b, y + 0.2, f" {b:.2f}", va="center", fontsize=8)
        if info["trained"]:
            ax.text(t, y - 0.2, f" {t:.2f}", va="center", fontsize=8)
    ax.set_yticks(list(ys), labels)
    ax.set_xlim(0, 1.12)
    ax.invert_yaxis()
    ax.set_title(
        "baseline vs tuned per expect (black line: the bar;\nerror bars: 95% interval of the paired difference)"
    )
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _error_bars(info: dict, expects: list[dict], base: list[float], tuned: list[float]) -> list[list[float]]:
    """The tuned bar's 95% interval, baseline + [ci_low, ci_high] of the paired difference, as
    matplotlib's (below, above) distances from the bar's end; zero where no interval was computed."""
    checks = {c.get("expect"): c for c in info["gate"].get("checks", [])}
    below, above = [], []
    for e, b, t in zip(expects, base, tuned, strict=True):
        c = checks.get(expect_id(e), {})
        if c.get("ci_low") is None:
            below.append(0.0)
            above.append(0.0)
            continue
        # Rates live in [0, 1]: the interval of baseline + difference is clipped to the scale.
        below.append(max(0.0, t - max(0.0, b + c["ci_low"])))
        above.append(max(0.0, min(1.0, b + c["ci_high"]) - t))
    return [below, above]


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
