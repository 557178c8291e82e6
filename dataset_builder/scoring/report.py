"""Rendering a report: JSON text and a markdown section.

Input
    A report from :func:`.score.score_split` or :func:`.score.score_predictions` (floats
    already rounded there).
Output
    Text only, no timestamps and no paths beyond file names: identical reports give identical
    bytes.
"""

from __future__ import annotations

import json
from typing import Any, Mapping


def report_to_json(report: Mapping[str, Any]) -> str:
    """The report as JSON text: 2-space indent, keys in report order, UTF-8, final newline."""
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def format_metric(x: float | None) -> str:
    """A metric to 4 decimals; ``n/a`` when it is undefined (null)."""
    return "n/a" if x is None else f"{x:.4f}"


def _fmt_ci(ci: Any) -> str:
    return f"[{format_metric(ci[0])}, {format_metric(ci[1])}]" if ci else "n/a"


def report_to_markdown(report: Mapping[str, Any]) -> str:
    """The report as a markdown section: headline table with CIs, then per-type/per-class table."""
    title = f"{report.get('config', report['task'])} / {report.get('split', 'split')}"
    boot = report["bootstrap"]
    lines = [f"### Scores: {title}", ""]
    ident = [f"predictions `{report['predictions']['file']}`", f"scorer {report['scorer_version']}",
             f"{report['n_examples']} examples in {report['n_articles']} articles"]
    if "dataset_version" in report:
        ident.append(f"dataset {report['dataset_version']} (`{report['dataset_fingerprint'][:12]}`)")
    ident.append(f"split `{report['split_hash'][:12]}`")
    if boot.get("ci_note"):
        ident.append(f"{int(boot['confidence'] * 100)}% CI {boot['ci_note']}")
    elif boot["resamples"]:
        ident.append(f"{int(boot['confidence'] * 100)}% CI: {boot['resamples']} article bootstrap resamples, seed {boot['seed']}")
    lines += ["; ".join(ident) + ".", ""]
    metrics, ci = report["metrics"], report["ci"]
    lines += ["| metric | value | 95% CI |", "|---|---:|---|"]
    if report["task"] == "ner":
        for m in ("precision", "recall", "f1"):
            lines.append(f"| micro {m} | {format_metric(metrics['micro'][m])} | {_fmt_ci(ci.get('micro', {}).get(m))} |")
        if "accuracy" in metrics:
            lines.append(f"| token accuracy | {format_metric(metrics['accuracy'])} | n/a |")
        lines += ["", f"Mode: {report['mode']}" + (f" ({report['scheme']})" if report["mode"] == "strict" else "") + ".", ""]
        lines += ["| type | precision | recall | F1 | F1 95% CI | gold | predicted | correct |", "|---|---:|---:|---:|---|---:|---:|---:|"]
        for typ, row in metrics["per_type"].items():
            f1_ci = ci.get("per_type", {}).get(typ, {}).get("f1")
            lines.append(
                f"| {typ} | {format_metric(row['precision'])} | {format_metric(row['recall'])} | {format_metric(row['f1'])} | {_fmt_ci(f1_ci)} | "
                f"{row['n_gold']} | {row['n_pred']} | {row['n_correct']} |"
            )
    else:
        classes = metrics.get("macro_average", {}).get("classes")
        macro = "macro-F1" + (f" ({', '.join(classes)})" if classes is not None else "")
        rows = [("accuracy", "accuracy"), ("macro_f1", macro)]
        if "f_avg" in metrics:
            rows.append(("f_avg", f"F_avg ({report['favor_label']}, {report['against_label']})"))
        if "fnc1" in metrics:
            rows.append(("fnc1", f"FNC-1 score (relative; unrelated class {report['unrelated_label']})"))
        for m, label in rows:
            primary = " (primary)" if m == report["primary_metric"] and m != "f_avg" else ""
            lines.append(f"| {label}{primary} | {format_metric(metrics[m])} | {_fmt_ci(ci.get(m))} |")
        lines += ["", "| class | precision | recall | F1 | F1 95% CI | support | predicted |", "|---|---:|---:|---:|---|---:|---:|"]
        for name, row in metrics["per_class"].items():
            f1_ci = ci.get("per_class", {}).get(name, {}).get("f1")
            lines.append(
                f"| {name} | {format_metric(row['precision'])} | {format_metric(row['recall'])} | {format_metric(row['f1'])} | {_fmt_ci(f1_ci)} | "
                f"{row['support']} | {row['n_pred']} |"
            )
        cm = metrics["confusion_matrix"]
        lines += ["", "| gold \\ predicted | " + " | ".join(cm["labels"]) + " |", "|---|" + "---:|" * len(cm["labels"])]
        for name, counts in zip(cm["labels"], cm["matrix"]):
            lines.append(f"| {name} | " + " | ".join(str(c) for c in counts) + " |")
    if report["task"] == "ner" and metrics.get("conlleval"):
        lines += ["", "As `conlleval` prints it:", "", "```", *metrics["conlleval"], "```"]
    if report.get("notes"):
        lines += ["", "Notes: " + "; ".join(report["notes"]) + "."]
    if report["task"] == "stance" and "macro_average" in metrics:
        lines += ["", f"Macro-F1: {metrics['macro_average']['convention']}."
                  + (f" F_avg: {metrics['f_avg_convention']}." if "f_avg_convention" in metrics else "")
                  + (f" FNC-1: {metrics['fnc1_convention']}." if "fnc1_convention" in metrics else "")]
    if "comparison" in report:
        comp = report["comparison"]
        lines += ["", f"Paired bootstrap: `{report['predictions']['file']}` (a) vs `{comp['predictions']['file']}` (b).", "",
                  "| metric | a | b | a - b | 95% CI | p(winner not better) |", "|---|---:|---:|---:|---|---:|"]
        for name, row in comp["metrics"].items():
            p = format_metric(row["p_not_better"]) if "p_not_better" in row else "-"
            lines.append(f"| {name} | {format_metric(row['a'])} | {format_metric(row['b'])} | {format_metric(row['delta'])} | {_fmt_ci(row.get('ci'))} | {p} |")
    return "\n".join(lines) + "\n"
