"""The dataset card: ``DATASET_CARD.md`` and the ``README.md`` that ``datasets`` loads.

Input
    The :class:`~dataset_builder.build.report.BuildReport` and per-split statistics of a build,
    its tables (for the loader configuration), the split manifest, the labelling config and
    optionally the ``normalise`` report (its ``agreement`` and ``rejected`` entries go into the
    card as they are).
Output
    ``DATASET_CARD.md`` (schema, counts, label distributions, agreement, rejections, guidelines,
    split policy, licence, citation, files, and the Hub sections of :mod:`.hub`: warnings, example
    rows, source data, personal information, uses, bias and limitations, annotators, baseline
    results) and ``README.md`` = YAML header (the Hub's descriptive fields, configs, data_files,
    dataset_info) + the card; the README passes :func:`.hub.validate_readme` before it is written.

Invariants: generated from the data only, no timestamps: same inputs, same bytes. Empty splits
are left out of the README's loader configuration (``datasets`` cannot load a split with no
rows, huggingface/datasets#8401) and named in the card.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Mapping

from ..records import SPLIT_NAMES, SplitManifest
from .bio import bio_names
from .features import annotations_features, ner_features, stance_features, stance_task
from .hub import PLACEHOLDER, hub_metadata, hub_sections, validate_readme
from .plot import PLOT_NAME
from .report import BuildReport
from .tokens import TOKENISER

CARD_NAME = "DATASET_CARD.md"


def write_card(
    out: Path,
    *,
    report: BuildReport,
    stats: Mapping[str, Any],
    tables: Mapping[str, Mapping[str, Any]],
    manifest: SplitManifest,
    schema: Any,
    normalise_report: Mapping[str, Any] | None,
    pretty_name: str | None,
    description: str | None,
    license: str,
    citation: str | None,
    language: str,
    results: Mapping[str, Any] | None = None,
) -> None:
    """Write ``out/DATASET_CARD.md`` and ``out/README.md`` (YAML header + the same card).

    Raises
    ------
    SchemaError
        The README's metadata would not pass the Hub's checks (:func:`.hub.validate_readme`).
    """
    entity_labels = tuple(getattr(schema, "entity_labels", ()) or ())
    stance_labels = tuple(getattr(schema, "stance_labels", ()) or ())
    body = render_card(
        report=report,
        stats=stats,
        manifest=manifest,
        schema=schema,
        normalise_report=normalise_report,
        pretty_name=pretty_name or _default_name(schema),
        description=description,
        license=license,
        citation=citation,
        language=language,
        examples={c: tables[c]["train"].slice(0, 1).to_pylist()[0] for c in report.configs if tables[c]["train"].num_rows},
        results=results,
    )
    header = _yaml_header(tables, report.configs, entity_labels, stance_labels, pretty_name or _default_name(schema), license,
                          language, stance_task(schema))
    validate_readme(header + "\n" + body, where=str(out / "README.md"))
    (out / CARD_NAME).write_text(body, encoding="utf-8", newline="\n")
    (out / "README.md").write_text(header + "\n" + body, encoding="utf-8", newline="\n")


def _default_name(schema: Any) -> str:
    return f"News {getattr(schema, 'name', 'dataset').replace('_', ' ')} dataset"


def _yaml_header(tables, configs, entity_labels, stance_labels, pretty_name, license, language, task) -> str:
    import yaml

    feats = {"ner": ner_features(entity_labels) if "ner" in configs else None,
             "stance": stance_features(stance_labels, task["target_kind"]) if "stance" in configs else None,
             "annotations": annotations_features() if "annotations" in configs else None}
    rows = {c: sum(t.num_rows for t in tables[c].values()) for c in configs}
    header: dict[str, Any] = {**hub_metadata(configs, rows, license, language), "pretty_name": pretty_name,
                              "configs": [], "dataset_info": []}
    for config in configs:
        non_empty = [s for s in SPLIT_NAMES if tables[config][s].num_rows]
        header["configs"].append(
            {
                "config_name": config,
                "data_files": [{"split": s, "path": f"{config}/{s}.parquet"} for s in non_empty],
            }
        )
        header["dataset_info"].append(
            {
                "config_name": config,
                "features": feats[config]._to_yaml_list(),
                "splits": [
                    {"name": s, "num_bytes": int(tables[config][s].nbytes), "num_examples": int(tables[config][s].num_rows)}
                    for s in non_empty
                ],
            }
        )
    text = yaml.safe_dump(header, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
    return f"---\n{text}---\n"


def _md(value: Any) -> str:
    if value is None:
        return "n/a"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("|", "\\|").replace("\n", " ")


def _report_tables(obj: Any, head: tuple[str, str] = ("key", "value")) -> list[str]:
    """Markdown for an opaque report entry: nested keys flattened to ``a / b`` rows of one table;
    a list of objects (such as pairwise agreement) becomes a table of its own, columns = keys."""
    rows: list[tuple[str, Any]] = []
    lists: list[tuple[str, list]] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{path} / {k}" if path else str(k))
        elif isinstance(value, list) and value and all(isinstance(x, Mapping) for x in value):
            lists.append((path, value))
        else:
            rows.append((path or "value", value))

    walk(obj, "")
    lines: list[str] = []
    if rows:
        lines += [f"| {head[0]} | {head[1]} |", "|---|---|"] + [f"| {_md(k)} | {_md(v)} |" for k, v in rows]
    for path, items in lists:
        columns = list(dict.fromkeys(k for item in items for k in item))
        lines += ["", f"{path}:", "", "| " + " | ".join(map(_md, columns)) + " |", "|---" * len(columns) + "|"]
        lines += ["| " + " | ".join(_md(item.get(c)) for c in columns) + " |" for item in items]
    return lines


def render_card(
    *,
    report: BuildReport,
    stats: Mapping[str, Any],
    manifest: SplitManifest,
    schema: Any,
    normalise_report: Mapping[str, Any] | None,
    pretty_name: str,
    description: str | None,
    license: str,
    citation: str | None,
    language: str,
    examples: Mapping[str, Mapping[str, Any]] | None = None,
    results: Mapping[str, Any] | None = None,
) -> str:
    """The dataset card (markdown), generated from the data; deterministic."""
    entity_labels = tuple(getattr(schema, "entity_labels", ()) or ())
    stance_labels = tuple(getattr(schema, "stance_labels", ()) or ())
    sections = [
        _overview_lines(report, stats, pretty_name, description, license, language),
        _schema_lines(report, entity_labels, stance_labels, stance_task(schema)),
        _counts_lines(report, stats),
        _distribution_lines(report, stats, entity_labels, stance_labels),
        hub_sections(stats=stats, configs=report.configs, license=license, warnings=report.warnings,
                     examples=examples or {}, results=results),
        _projection_lines(report, stats),
        _split_policy_lines(manifest),
        _guidelines_lines(schema),
        _agreement_lines(normalise_report),
        _rejections_lines(report, normalise_report),
        _licence_and_citation_lines(report, pretty_name, license, citation),
        _files_lines(report),
    ]
    return "\n".join(line for section in sections for line in section)


def _overview_lines(
    report: BuildReport,
    stats: Mapping[str, Any],
    pretty_name: str,
    description: str | None,
    license: str,
    language: str,
) -> list[str]:
    """Title, version line, description, how to load it (and which splits are empty)."""
    L: list[str] = []
    L += [f"# {pretty_name}", ""]
    L += [f"Version **{report.version}** · fingerprint `{report.fingerprint}` · licence `{license}` · language `{language}`", ""]
    L += ["## Description", ""]
    L += [description or (
        "News articles segmented into units of text and annotated in Label Studio with named entities "
        "and the stance of each segment toward a target (a span of the segment, or a given headline, claim or "
        "topic). Built by `dataset-builder` from "
        "adjudicated gold annotations."
    ), ""]
    L += ["## Loading", "", "```python", "from datasets import load_dataset", ""]
    for c in report.configs:
        L += [f'{c} = load_dataset("path/to/this/folder", "{c}")  # DatasetDict: train, validation, test']
    L += ["```", ""]
    empty = [(c, s) for c in report.configs for s in SPLIT_NAMES if stats[c][s]["rows"] == 0]
    if empty:
        L += [
            "Empty splits ("
            + ", ".join(f"{c}/{s}" for c, s in empty)
            + ") are written as zero-row parquet files with the full schema but are not listed in the "
            "loader configuration, because `datasets` cannot load a split with no rows "
            "(huggingface/datasets#8401); `dataset_builder.build.load_built` returns them as empty datasets.",
            "",
        ]
    return L


_METRIC_TEXT = {
    "f_avg": "F_avg (SemEval-2016 Task 6): the mean F1 of {favor!r} and {against!r}",
    "fnc1": ("the FNC-1 score, as a percent of the best possible: 0.25 per pair for telling {unrelated!r} from the "
             "related classes, 0.75 more for the exact related class"),
    "macro_f1": "macro-F1 over the classes with gold support",
}


def _stance_task_lines(task: Mapping[str, Any]) -> list[str]:
    """What the stance target is and which metric ranks models (the config's declaration)."""
    kind = ("a **given target**: text outside `text` (a headline, a claim, a topic), in `target`; it is never part "
            "of `text` and has no offsets" if task["target_kind"] == "given" else
            "a **span target**: `text[target_start:target_end] == target`")
    metric = _METRIC_TEXT[task["metric"]].format(**task["roles"])
    return [f"The stance target is {kind}. Primary metric (declared by the labelling config): {metric}.", ""]


def _schema_lines(report: BuildReport, entity_labels: tuple[str, ...], stance_labels: tuple[str, ...],
                  task: Mapping[str, Any]) -> list[str]:
    """The features of each configuration."""
    L: list[str] = []
    L += ["## Schema", ""]
    if "ner" in report.configs:
        L += ["### `ner`", "", "| feature | type |", "|---|---|"]
        L += [
            "| id | string (segment id) |", "| article_id | string |", _ARTICLE_ROW, "| text | string (the segment) |",
            "| tokens | list of string |", "| token_starts, token_ends | list of int32 (code points into `text`) |",
            f"| ner_tags | list of ClassLabel: {', '.join(f'{i}={n}' for i, n in enumerate(bio_names(entity_labels)))} |",
            "| spans | list of {start int32, end int32, label string, text string}: the gold character spans |", "",
        ]
    if "stance" in report.configs:
        given = task["target_kind"] == "given"
        L += ["### `stance`", "", *_stance_task_lines(task), "| feature | type |", "|---|---|"]
        L += [
            "| id | string: `{segment_id}@target` |" if given else "| id | string: `{segment_id}@{target_start}-{target_end}` |",
            "| article_id | string |", _ARTICLE_ROW, "| segment_id | string |", "| text | string (the segment) |",
            "| target | string (the given target: a headline, a claim, a topic) |" if given else
            "| target | string (the target span's text) |",
            *([] if given else ["| target_start, target_end | int32 (code points into `text`) |"]),
            f"| label | ClassLabel: {', '.join(f'{i}={n}' for i, n in enumerate(stance_labels))} |", "",
        ]
    if "annotations" in report.configs:
        L += ["### `annotations`", "", "| feature | type |", "|---|---|",
              "| id | string: `{segment_id}/{annotator}` |", "| segment_id, article_id, text | string |",
              "| annotator | string: the pseudonymous handle `normalise` gives (`gold` for the gold row) |",
              "| role | string: annotator, adjudicator, ground_truth (an imported gold source) or gold |",
              "| gold_source | string: adjudicator, ground_truth or vote (how the segment's gold was decided; null: "
              "unresolved) |",
              "| entities | list of {start, end, label, text} |",
              "| stances | list of {target_start, target_end, target_text, label} (offsets null for a given target) |",
              ""]
    return L


_ARTICLE_ROW = "| title, date, source, url | string: the article's, null when unknown |"


def _counts_lines(report: BuildReport, stats: Mapping[str, Any]) -> list[str]:
    """Rows, articles and tokens per configuration and split."""
    L: list[str] = []
    L += ["## Counts per split", ""]
    L += ["| config | split | rows | articles | tokens |", "|---|---|---|---|---|"]
    for c in report.configs:
        for s in SPLIT_NAMES:
            st = stats[c][s]
            L.append(f"| {c} | {s} | {st['rows']} | {st['articles']} | {st.get('tokens', '')} |")
    L += [""]
    return L


def _distribution_lines(
    report: BuildReport,
    stats: Mapping[str, Any],
    entity_labels: tuple[str, ...],
    stance_labels: tuple[str, ...],
) -> list[str]:
    """The plot, then the stance and entity label counts per split."""
    L: list[str] = []
    L += ["## Label distributions", "", f"![Label distribution per split]({PLOT_NAME})", ""]
    if "stance" in report.configs:
        L += ["### Stance labels (rows)", "", "| label | " + " | ".join(SPLIT_NAMES) + " |", "|---" * (len(SPLIT_NAMES) + 1) + "|"]
        for i, name in enumerate(stance_labels):
            L.append(f"| {name} | " + " | ".join(str(stats['stance'][s]['labels'].get(i, 0)) for s in SPLIT_NAMES) + " |")
        L += [""]
    if "ner" in report.configs:
        L += ["### Entity labels (gold spans / entities in `ner_tags`)", "",
              "| label | " + " | ".join(SPLIT_NAMES) + " |", "|---" * (len(SPLIT_NAMES) + 1) + "|"]
        for i, name in enumerate(entity_labels):
            L.append(
                f"| {name} | "
                + " | ".join(f"{stats['ner'][s]['spans'].get(i, 0)} / {stats['ner'][s]['bio_entities'].get(i, 0)}" for s in SPLIT_NAMES)
                + " |"
            )
        L += [""]
    return L


def _projection_lines(report: BuildReport, stats: Mapping[str, Any]) -> list[str]:
    """The tokenisation and BIO projection rule, and what happened to every span and target."""
    L: list[str] = []
    L += ["## Tokenisation and BIO projection", ""]
    ner = stats.get("ner") or {}
    own = sum(ner.get(s, {}).get("rows_with_own_tokens", 0) for s in SPLIT_NAMES)
    rows = sum(ner.get(s, {}).get("rows", 0) for s in SPLIT_NAMES)
    L += [
        f"Tokeniser: `{TOKENISER}` (also in the `ner` parquet files' metadata, so in the fingerprint). A segment "
        f"that brings its own tokens (an imported corpus such as a CoNLL file) keeps them exactly: {own} of {rows} "
        "`ner` rows. The others are tokenised by spaCy's English tokenizer (rules only, no model) with hyphens "
        "inside words not split, the conventions CoNLL-2003 follows (`n't` and `'s` apart, `U.S.`, dates and "
        "hyphenated words whole, punctuation apart), with URLs and e-mail addresses whole and no grapheme "
        "cluster split (combining marks, emoji sequences, flags stay one token); offsets are code points into "
        "the segment text. A gold span covers the tokens it overlaps: a span whose edges fall inside a token is "
        "expanded to the covering tokens; a span over no token is dropped. Where spans then overlap, the "
        "longest (in tokens) is kept, then the earliest, then the label listed first in the config; the others "
        "are dropped from `ner_tags` (they stay in `spans`).",
        "",
    ]
    L += ["| entity spans | count |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in report.spans.items()]
    L += ["", "| stance targets | count |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in report.stances.items()]
    L += [
        "",
        "A target annotated twice with the same label is kept once (`dropped_duplicate`); with different "
        "labels it is dropped (`dropped_conflicting`). `held_out` counts annotations of held-out articles.",
        "",
    ]
    return L


def _split_policy_lines(manifest: SplitManifest) -> list[str]:
    """How the splits were made (ratios, grouping, stability, pins) and what was held out."""
    L: list[str] = []
    L += ["## Split policy", ""]
    settings = manifest.settings
    L += [
        f"- Ratios (train/validation/test): {' / '.join(f'{r:g}' for r in manifest.ratios)}; salt `{manifest.salt}`.",
        "- Grouped by article: no article has segments in two splits. Near-duplicate articles (wire copies) "
        f"form one group: word {settings.get('shingle_size', '?')}-shingles, MinHash LSH (datasketch, "
        f"{settings.get('num_perm', '?')} permutations) for candidates, exact Jaccard >= "
        f"{settings.get('near_duplicate_threshold', '?')} to confirm, clusters = connected components; texts "
        f"from {settings.get('text_source', '?')}.",
        f"- Near-duplicate clusters: {len(manifest.near_duplicate_clusters)} "
        f"({sum(len(c.articles) for c in manifest.near_duplicate_clusters)} articles), each kept in one split.",
        "- Stable: an article listed in the previous manifest keeps its split, so adding articles never moves one. "
        "New groups are placed in the order of a salted hash of their smallest article id: the first fills any "
        "empty split, each next one goes where it best closes the gap to the target share of segments and of "
        "each stance label (stratified as far as whole groups allow). Trade-off: the split of an article depends "
        "on the manifest history, not on its id alone; re-splitting from scratch can move articles.",
        f"- Held out (new articles in a near-duplicate cluster already spread over several splits): {len(manifest.held_out)}.",
        f"- Gold data hash at split time: `{manifest.data_sha256}`.",
        "",
    ]
    pinned = getattr(manifest, "pinned", ())
    if pinned:  # only with pins, so that a card without any is unchanged
        split_of = manifest.split_of()
        per = Counter(split_of[a] for a in pinned)
        crossings = getattr(manifest, "pinned_crossings", ())
        L[-1:] = [
            f"- Pinned to the corpus's official split (placed there whatever the policy above says): {len(pinned)} "
            f"article(s) ({', '.join(f'{s} {per[s]}' for s in SPLIT_NAMES if per[s])}); unpinned articles are placed "
            "as above, pinned ones count towards the targets. Near-duplicate clusters across pinned splits (the "
            f"official split's own overlap, reported, not moved): {len(crossings)}.",
            "",
        ]
    for a, reason in manifest.held_out.items():
        L.append(f"  - `{a}`: {reason}")
    if manifest.held_out:
        L.append("")
    return L


def _guidelines_lines(schema: Any) -> list[str]:
    """The labelling config and its instructions, quoted."""
    L: list[str] = []
    L += ["## Annotation guidelines", ""]
    L += [f"Labelling config `{getattr(schema, 'name', '?')}` (sha256 `{getattr(schema, 'config_hash', '?')}`).", ""]
    instructions = getattr(schema, "instructions", "") or ""
    if isinstance(instructions, (list, tuple)):
        instructions = "\n".join(str(x) for x in instructions)
    L += [("> " + line) if line.strip() else ">" for line in str(instructions).splitlines()] or ["(none given)"]
    L += [""]
    return L


def _agreement_lines(normalise_report: Mapping[str, Any] | None) -> list[str]:
    """The ``agreement`` entry of the normalise report, as tables."""
    L: list[str] = []
    L += ["## Annotator agreement", ""]
    agreement = (normalise_report or {}).get("agreement")
    L += _report_tables(agreement, ("measure", "value")) if agreement else ["No agreement figures were given (no normalise report)."]
    L += [""]
    help_ = (normalise_report or {}).get("model_help") or {}
    if help_:
        L += ["### Model help", "", "What annotators did with each model's pre-annotations (predicted items kept "
              "unchanged, relabelled, moved, deleted; items they added). Predictions never become gold.", "",
              "| model_version | kind | annotations | kept | relabelled | moved | deleted | added | kept share |",
              "|---|---|---|---|---|---|---|---|---|"]
        for version, row in help_.items():
            for kind in ("entities", "stances"):
                c = row.get(kind) or {}
                L += [f"| {_md(version)} | {kind} | {row.get('annotations', 0)} | {c.get('kept', 0)} | {c.get('relabelled', 0)} "
                      f"| {c.get('moved', '-') if kind == 'entities' else '-'} | {c.get('deleted', 0)} | {c.get('added', 0)} "
                      f"| {'n/a' if c.get('kept_share') is None else c['kept_share']} |"]
        L += [""]
    return L


def _rejections_lines(report: BuildReport, normalise_report: Mapping[str, Any] | None) -> list[str]:
    """The ``rejected`` entry of the normalise report, and what ``build`` dropped."""
    L: list[str] = []
    L += ["## What was rejected and why", ""]
    rejected = (normalise_report or {}).get("rejected")
    if rejected:
        L += ["Rejected by `normalise`:", ""] + _report_tables(rejected, ("reason", "count")) + [""]
    else:
        L += ["No normalise report was given, or it lists no rejections.", ""]
    L += [
        f"Dropped by `build`: {report.segments_held_out} segments of held-out articles; entity spans and stance "
        "targets as counted in *Tokenisation and BIO projection* above.",
        "",
    ]
    gold = (normalise_report or {}).get("gold") or {}
    L += [
        f"Waiting for adjudication: {report.segments_entities_disputed} segments whose annotators tied on the "
        "entities are in `stance` (their decided targets) but not in `ner`, where a partial row would teach wrong O "
        f"tags; `normalise` counted {gold.get('entities_disputed', 0)} such segments, "
        f"{gold.get('stances_unresolved', 0)} undecided stance targets and {gold.get('unresolved_items', 0)} tied "
        "items in all (`dataset-builder adjudicate` lists them for the adjudicator).",
        "",
    ]
    return L


def _licence_and_citation_lines(report: BuildReport, pretty_name: str, license: str, citation: str | None) -> list[str]:
    """The licence, and the citation given (or a generated ``@misc`` stub)."""
    L: list[str] = []
    L += ["## Licence", "", f"`{license}`" + (
        " **Warning:** no licence was given, so nobody can tell whether this data may be reused; set it with "
        "`dataset-builder build --license` (a Hub licence id such as `cc-by-4.0`)." if license == "unknown" else "."), ""]
    L += ["## Citation", "", "```bibtex"]
    if citation:
        L += [citation.strip()]
    else:
        key = re.sub(r"\W+", "_", pretty_name.lower()).strip("_")
        L += [f"@misc{{{key}_{re.sub(r'[^0-9A-Za-z]+', '_', report.version)},", f"  title = {{{pretty_name}}},",
              "  author = {TO BE WRITTEN: the maintainers' names},", "  year = {TO BE WRITTEN: the year of this version},",
              f"  note = {{Version {report.version}, fingerprint {report.fingerprint[:16]}}},", "}"]
    L += ["```", ""]
    if not citation:
        L += [PLACEHOLDER.format("the authors and the year of the citation above (or pass --citation)"), ""]
    return L


def _files_lines(report: BuildReport) -> list[str]:
    """Every file written with its sha256, and how the fingerprint is made."""
    L: list[str] = []
    L += ["## Files", "", "| file | sha256 |", "|---|---|"]
    L += [f"| {rel} | `{sha}` |" for rel, sha in sorted(report.files.items())]
    L += ["", "Fingerprint = sha256 of the bytes of every parquet file, concatenated in relative-path order.", ""]
    return L
