"""The eval leaderboard in markdown, JSON, HTML (with an SVG chart) and PNG; and the
comparison of two saved results.

Test doubles are labeled as such on every line they appear: their numbers measure the
pipeline, never a model.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from vibe_audit.errors import UserError
from vibe_audit.evals.png import bar_chart
from vibe_audit.evals.suite import Ablation, EvalResult, ModelResult, TriageAblation
from vibe_audit.schemas import AUDIT_IDS

METRICS = ("precision", "recall", "f1")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def model_label(model: ModelResult) -> str:
    return f"{model.model} (test double)" if model.kind == "test double" else model.model


def summary(model: ModelResult) -> dict[str, object]:
    """The headline numbers of one model (means over repeats)."""
    return {
        **{m: model.mean(m) for m in METRICS},
        "per_audit": {a: {m: model.mean(m, a) for m in METRICS} for a in model.runs[0].per_audit},
        "severity_agreement": _mean([r.severity_agreement for r in model.runs]),
        "location_accuracy": _mean([r.location_accuracy for r in model.runs]),
        "decoy_hits": len(model.runs[0].decoy_hits),
    }


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def render_json(result: EvalResult) -> str:
    payload = result.model_dump(mode="json")
    for entry, model in zip(payload["models"], result.models, strict=True):
        entry["summary"] = summary(model)
        entry["label"] = model_label(model)
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def render_markdown(result: EvalResult) -> str:
    corpora = ", ".join(f"{name} ({n} defects)" for name, n in result.corpora.items())
    lines = [
        "# vibe-audit eval leaderboard",
        "",
        f"Corpus: {corpora}; {result.decoys} decoys. Audits: {', '.join(result.audits)}. "
        f"Repeats: {result.repeat}. {result.created}, {result.machine}.",
        "",
        "Rows marked (test double) answer from the labels: they measure what the pipeline "
        "(chunking, routing, verification, merging) keeps, not a model.",
        "",
        "| model | kind | precision | recall | F1 | severity agreement | location accuracy "
        "| decoy hits | tokens in / out | cost USD | wall s | stability |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model in result.models:
        s = summary(model)
        stability = "n/a (1 run)" if model.stability is None else f"{model.stability:.2f}"
        lines.append(
            f"| {model_label(model)} | {model.kind} | {_pct(model.mean('precision'))} | "
            f"{_pct(model.mean('recall'))} | {_pct(model.mean('f1'))} | "
            f"{_pct(s['severity_agreement'])} | {_pct(s['location_accuracy'])} | "  # type: ignore[arg-type]
            f"{s['decoy_hits']} | {model.tokens_in:,} / {model.tokens_out:,} | "
            f"{model.cost_usd:.4f} | {model.wall_s:.1f} | {stability} |"
        )
    audits = [a for a in AUDIT_IDS if a in result.audits]
    lines += ["", "## F1 per audit", "", "| model | " + " | ".join(audits) + " |"]
    lines.append("|---|" + "---|" * len(audits))
    for model in result.models:
        cells = " | ".join(_pct(model.mean("f1", a)) for a in audits)
        lines.append(f"| {model_label(model)} | {cells} |")
    for model in result.models:
        if model.unreviewed_jobs:
            lines += [
                "",
                f"**{model_label(model)}: {model.unreviewed_jobs} request(s) failed or were "
                "skipped; its numbers cover less than the whole corpus.**",
            ]
    lines += _ablation_markdown(result.ablation)
    lines += _triage_markdown(result.triage)
    doubles = [m for m in result.models if m.kind == "test double"]
    if doubles:
        lines += ["", "## Pipeline ceiling (test doubles)", ""]
        for model in doubles:
            dropped = ", ".join(f"{r}: {n}" for r, n in model.findings_dropped.items())
            lines.append(
                f"- {model_label(model)}: recall {_pct(model.mean('recall'))}, precision "
                f"{_pct(model.mean('precision'))}; verification dropped "
                f"{sum(model.findings_dropped.values())} finding(s)"
                + (f" ({dropped})" if dropped else "")
            )
            lines += [
                f"  - lost {m.label}"
                + (f" in {m.audit}" if m.audit else " in every audit")
                + f": {m.cause}"
                for m in model.misses
            ]
    return "\n".join(lines) + "\n"


ABLATION_NOTE = (
    "The same test double with interaction context (the other readers and writers of the "
    "resources a request's code touches) and without it. Cross-file labels (a check in one "
    "file, the unguarded write in another) are answered only when every place is visible. "
    "Both runs send one chunk per request, so another file's code reaches a request only "
    "through the interaction context (a normal run packs a directory's files together)."
)


def _ablation_markdown(ablation: list[Ablation]) -> list[str]:
    if not ablation:
        return []
    lines = ["", "## Ablation: interaction context", "", ABLATION_NOTE, ""]
    lines += [
        "| model | recall with | recall without | precision with | precision without "
        "| tokens in with / without | cross-file labels | found only with context |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in ablation:
        lines.append(
            f"| {a.model} (test double) | {_pct(a.recall_with)} | {_pct(a.recall_without)} | "
            f"{_pct(a.precision_with)} | {_pct(a.precision_without)} | "
            f"{a.tokens_in_with:,} / {a.tokens_in_without:,} | "
            f"{', '.join(a.cross_file_labels) or 'none'} | "
            f"{', '.join(a.found_only_with) or 'none'} |"
        )
    return lines


TRIAGE_NOTE = (
    "Each model without a triage pass and with one: the triage model reads every routed "
    "chunk first and only the chunks it (or a rule) flags reach the main model. Cost "
    "includes the triage pass."
)


def _triage_rows(triage: list[TriageAblation]) -> list[list[str]]:
    return [
        [
            f"{t.model}{_double(t.model)}",
            f"{t.triage}{_double(t.triage)}",
            f"{_pct(t.recall_with)} / {_pct(t.recall_without)}",
            f"{_pct(t.precision_with)} / {_pct(t.precision_without)}",
            f"{t.main_tokens_in_with:,} / {t.main_tokens_in_without:,}",
            f"{t.triage_tokens_in:,}",
            f"{t.cost_with:.4f} / {t.cost_without:.4f}",
            ", ".join(t.lost_with) or "none",
        ]
        for t in triage
    ]


TRIAGE_HEAD = [
    "model", "triage", "recall with / without", "precision with / without",
    "main-model tokens in with / without", "triage tokens in", "cost USD with / without",
    "lost with triage",
]  # fmt: skip


def _double(model: str) -> str:
    return " (test double)" if model in ("oracle", "noisy-oracle") else ""


def _triage_markdown(triage: list[TriageAblation]) -> list[str]:
    if not triage:
        return []
    lines = ["", "## Triage", "", TRIAGE_NOTE, ""]
    lines += ["| " + " | ".join(TRIAGE_HEAD) + " |", "|" + "---|" * len(TRIAGE_HEAD)]
    lines += ["| " + " | ".join(row) + " |" for row in _triage_rows(triage)]
    return lines


def _triage_html(triage: list[TriageAblation]) -> str:
    if not triage:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in TRIAGE_HEAD)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in _triage_rows(triage)
    )
    return (
        f'<h2>Triage</h2>\n<p class="note">{TRIAGE_NOTE}</p>\n'
        f"<table><tr>{head}</tr>\n{rows}\n</table>\n"
    )


def _ablation_html(ablation: list[Ablation]) -> str:
    if not ablation:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(a.model)} (test double)</td><td>{_pct(a.recall_with)}</td>"
        f"<td>{_pct(a.recall_without)}</td><td>{_pct(a.precision_with)}</td>"
        f"<td>{_pct(a.precision_without)}</td>"
        f"<td>{html.escape(', '.join(a.found_only_with) or 'none')}</td></tr>"
        for a in ablation
    )
    return (
        f'<h2>Ablation: interaction context</h2>\n<p class="note">{ABLATION_NOTE}</p>\n'
        "<table><tr><th>model</th><th>recall with</th><th>recall without</th>"
        "<th>precision with</th><th>precision without</th><th>found only with context</th>"
        f"</tr>\n{rows}\n</table>\n"
    )


def render_html(result: EvalResult, png_name: str | None = None) -> str:
    rows = []
    for model in result.models:
        cells = "".join(f"<td>{_pct(model.mean(m))}</td>" for m in METRICS)
        rows.append(
            f"<tr><td>{html.escape(model_label(model))}</td><td>{model.kind}</td>{cells}"
            f"<td>{model.tokens_in:,} / {model.tokens_out:,}</td><td>{model.cost_usd:.4f}</td>"
            f"<td>{model.wall_s:.1f}</td></tr>"
        )
    image = (
        f'<p><img src="{html.escape(png_name)}" alt="the same chart as PNG"></p>'
        if png_name
        else ""
    )
    corpora = ", ".join(f"{html.escape(n)} ({c})" for n, c in result.corpora.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vibe-audit eval leaderboard</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3rem .6rem; }}
th {{ background: #f4f4f4; }} .note {{ color: #555; }}
</style></head><body>
<h1>vibe-audit eval leaderboard</h1>
<p class="note">Corpus: {corpora}; {result.decoys} decoys. Audits: {", ".join(result.audits)}.
Repeats: {result.repeat}. {html.escape(result.created)}, {html.escape(result.machine)}.
Rows marked (test double) answer from the labels and measure the pipeline, not a model.</p>
{_svg(result)}
{image}
<table><tr><th>model</th><th>kind</th><th>precision</th><th>recall</th><th>F1</th>
<th>tokens in / out</th><th>cost USD</th><th>wall s</th></tr>
{"".join(rows)}
</table>
{_ablation_html(result.ablation)}{_triage_html(result.triage)}</body></html>
"""


_COLORS = ("#4285f4", "#34a853", "#ea4335")


def _svg(result: EvalResult) -> str:
    bar_h, gap, label_w, scale = 12, 4, 220, 400
    height = 30 + len(result.models) * (3 * (bar_h + gap) + 14)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + scale + 70}" '
        f'height="{height}" role="img" aria-label="precision, recall and F1 per model">'
    ]
    x = 0
    for name, color in zip(("precision", "recall", "F1"), _COLORS, strict=True):
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 14}" y="13" font-size="12">{name}</text>')
        x += 90
    y = 30
    for model in result.models:
        parts.append(
            f'<text x="0" y="{y + bar_h}" font-size="12">{html.escape(model_label(model))}</text>'
        )
        for i, metric in enumerate(METRICS):
            value = model.mean(metric)
            top = y + i * (bar_h + gap)
            width = 0 if value is None else round(value * scale)
            parts.append(
                f'<rect x="{label_w}" y="{top}" width="{width}" height="{bar_h}" '
                f'fill="{_COLORS[i]}"/>'
            )
            parts.append(
                f'<text x="{label_w + width + 4}" y="{top + bar_h - 2}" font-size="11">'
                f"{_pct(value)}</text>"
            )
        y += 3 * (bar_h + gap) + 14
    parts.append("</svg>")
    return "\n".join(parts)


def render_png(result: EvalResult) -> bytes:
    rows = [
        (model_label(model), (model.mean("precision"), model.mean("recall"), model.mean("f1")))
        for model in result.models
    ]
    return bar_chart("VIBE-AUDIT EVAL", rows)


def load_result(path: Path) -> EvalResult:
    try:
        return EvalResult.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read eval result {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise UserError(f"{path} is not a vibe-audit eval result ({first})") from exc


def render_compare(a: EvalResult, b: EvalResult, a_name: str, b_name: str) -> str:
    """Per model in both results: each headline metric in A, in B, and the change."""
    lines = [
        f"# eval compare: {a_name} -> {b_name}",
        "",
        f"A: {a.created} ({a.tool_version}); B: {b.created} ({b.tool_version})",
    ]
    if a.corpora != b.corpora or a.audits != b.audits:
        lines += ["", "**The two runs used different corpora or audits: deltas mix effects.**"]
    b_models = {m.model: m for m in b.models}
    shared = [m for m in a.models if m.model in b_models]
    if not shared:
        raise UserError(f"{a_name} and {b_name} share no model to compare")
    for model in shared:
        other = b_models[model.model]
        lines += [
            "",
            f"## {model_label(model)}",
            "",
            "| metric | A | B | change |",
            "|---|---|---|---|",
        ]
        for metric in METRICS:
            before, after = model.mean(metric), other.mean(metric)
            change = "n/a" if before is None or after is None else f"{after - before:+.1%}"
            lines.append(f"| {metric} | {_pct(before)} | {_pct(after)} | {change} |")
        lines.append(f"| cost USD | {model.cost_usd:.4f} | {other.cost_usd:.4f} | "
                     f"{other.cost_usd - model.cost_usd:+.4f} |")  # fmt: skip
        lines.append(f"| wall s | {model.wall_s:.1f} | {other.wall_s:.1f} | "
                     f"{other.wall_s - model.wall_s:+.1f} |")  # fmt: skip
    only = sorted({m.model for m in a.models} ^ set(b_models))
    if only:
        lines += ["", f"In one result only: {', '.join(only)}"]
    return "\n".join(lines) + "\n"
