"""What the Hugging Face Hub reads from a card: the YAML metadata, its offline validation, and the
card sections a Hub user looks for.

Input
    The build's configurations, row counts and statistics, the licence and language, the
    ``annotations`` summary (:mod:`.annotations`) and optionally a ``benchmark`` ``results.json``.
Output
    :func:`hub_metadata` (``size_categories``, ``task_categories``, ``task_ids``,
    ``annotations_creators``, ``language_creators``, ``multilinguality``, ``source_datasets``,
    ``tags``), :func:`validate_readme` and the markdown of the Hub sections (source data, personal
    information, uses, bias and limitations, annotators, example rows, baseline results).

Validation, offline: the README is parsed by ``huggingface_hub.DatasetCard`` (the Hub's own YAML
block rule: a mapping) and its metadata goes through ``DatasetCardData`` and back unchanged; the
closed vocabularies (creators, multilinguality, size categories, languages) are checked against
the lists ``datasets`` ships (``datasets/utils/resources/*.json``), ``source_datasets`` against the
two values ``DatasetCardData`` documents. ``DatasetCard.validate`` posts to the Hub
(``/api/validate-yaml``) and is not called here.

What only a person can write (the copyright of the news, intended uses, authors) is a clearly
marked :data:`PLACEHOLDER`, never invented.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import SchemaError
from ..records import SPLIT_NAMES

PLACEHOLDER = "**[TO BE WRITTEN BY THE DATASET'S MAINTAINERS: {}]**"
"""The marker of text the pipeline cannot know; ``publish`` lists the ones left."""

_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"))
_TASKS = {"ner": ("token-classification", "named-entity-recognition"),
          "stance": ("text-classification", "multi-class-classification")}


def size_category(n_rows: int) -> str:
    """The Hub's ``size_categories`` value for ``n_rows`` examples (the largest configuration)."""
    return next((name for bound, name in _SIZES if n_rows < bound), "10M<n<100M")


def hub_metadata(configs: Sequence[str], rows: Mapping[str, int], license: str, language: str) -> dict[str, Any]:
    """The Hub's descriptive YAML fields (see the module docstring), in the Hub's order."""
    tasks = [c for c in ("ner", "stance") if c in configs]
    return {
        "pretty_name": None,  # filled by the card
        "license": license,
        "language": [language],
        "annotations_creators": ["expert-generated"],
        "language_creators": ["found"],
        "multilinguality": ["monolingual"],
        "size_categories": [size_category(max(rows.values(), default=0))],
        "source_datasets": ["original"],
        "task_categories": [_TASKS[c][0] for c in tasks],
        "task_ids": [_TASKS[c][1] for c in tasks],
        "tags": ["news", "named-entities", "stance-detection", "label-studio", "annotator-disagreement"],
    }


def _resource(name: str) -> Any:
    """One of the vocabularies ``datasets`` ships (``datasets/utils/resources/<name>``)."""
    import datasets

    return json.loads((Path(datasets.__file__).parent / "utils" / "resources" / name).read_text(encoding="utf-8"))


def validate_readme(text: str, *, where: str = "README.md") -> dict[str, Any]:
    """Check a README as the Hub reads it (offline; see the module docstring); returns its metadata.

    Raises
    ------
    SchemaError
        No YAML block, a block that is not a mapping, metadata that ``DatasetCardData`` does not
        give back unchanged, or a value outside a closed vocabulary (named with the allowed ones).
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    if not text.startswith("---\n"):
        raise SchemaError(f"{where}: no YAML metadata block at the top; write the card with `dataset-builder build`.")
    try:
        card = DatasetCard(text)
    except ValueError as exc:
        raise SchemaError(f"{where}: the Hub cannot read its metadata ({exc}); rebuild the card.") from None
    data = card.data.to_dict()
    again = DatasetCardData(**data).to_dict()
    if again != data:
        raise SchemaError(f"{where}: the metadata does not survive DatasetCardData's round trip; rebuild the card.")
    creators = _resource("creators.json")
    closed = {
        "annotations_creators": creators["annotations"],
        "language_creators": creators["language"],
        "multilinguality": list(_resource("multilingualities.json")),
        "size_categories": list(_resource("size_categories.json")),
        "language": list(_resource("languages.json")),
        "source_datasets": ["original", "extended"],
    }
    for key, allowed in closed.items():
        values = data.get(key)
        if values is None:
            raise SchemaError(f"{where}: metadata field {key!r} is missing; the Hub card needs it (rebuild the card).")
        for value in [values] if isinstance(values, str) else values:
            if value not in allowed and not (key == "source_datasets" and str(value).startswith("extended|")):
                shown = allowed if len(allowed) < 20 else "an ISO 639 code such as 'en'"
                raise SchemaError(f"{where}: metadata {key} value {value!r} is not one the Hub knows; expected {shown}.")
    for key in ("license", "pretty_name", "task_categories", "task_ids", "tags", "configs"):
        if not data.get(key):
            raise SchemaError(f"{where}: metadata field {key!r} is missing or empty; rebuild the card.")
    return data


# --------------------------------------------------------------------------- sections


def hub_sections(
    *, stats: Mapping[str, Any], configs: Sequence[str], license: str, warnings: Sequence[str],
    examples: Mapping[str, Mapping[str, Any]], results: Mapping[str, Any] | None,
) -> list[str]:
    """The Hub sections of the card (markdown lines)."""
    L: list[str] = []
    if warnings:
        L += ["## Warnings", ""] + [f"> **Warning:** {w}" for w in warnings] + [""]
    L += _examples_lines(examples)
    L += ["## Source data", "",
          "News articles, collected by the dataset's maintainers and segmented by `dataset-builder` (rows carry "
          "each article's `title`, `date`, `source` and `url` where they were given).", "",
          "Copyright: " + PLACEHOLDER.format("who holds the copyright of the news texts, and under which terms they "
                                             "may be redistributed"), ""]
    n_per = sum(stats.get("ner", {}).get(s, {}).get("spans", {}).get(0, 0) for s in SPLIT_NAMES)
    L += ["## Personal and sensitive information", "",
          f"The texts name real people: {n_per} gold PER spans (the first entity label) across the splits, with the "
          "stance of the text toward them. Annotators are identified only by the handle `normalise` gives them "
          "(a Label Studio user id or a pseudonym), never by e-mail.", "",
          PLACEHOLDER.format("whether the named people are public figures, and how to request a removal"), ""]
    L += ["## Uses", "", "Intended uses: " + PLACEHOLDER.format("the uses the maintainers intend"), "",
          "Out-of-scope uses: judging real people by the stance labels (they describe one segment's wording, not "
          "the person); deploying a model trained on this data without evaluating it on your own news. "
          + PLACEHOLDER.format("other uses to rule out"), ""]
    L += ["## Bias, risks and limitations", "",
          "Stance is judged per segment toward one span, by a few annotators: labels reflect their reading and the "
          "guidelines below. The articles come from the sources the maintainers chose, so named people, places and "
          "viewpoints follow that choice. " + PLACEHOLDER.format("known gaps in sources, time span and topics"), ""]
    L += _annotator_lines(stats.get("annotations", {}).get("summary"))
    L += _baseline_lines(results)
    return L


def _examples_lines(examples: Mapping[str, Mapping[str, Any]]) -> list[str]:
    L = ["## Example rows", ""]
    for config, row in examples.items():
        L += [f"`{config}` (first train row, long lists cut to 8 items):", "", "```json", "{"]
        items = [f"  {json.dumps(k)}: {json.dumps(v[:8] if isinstance(v, list) else v, ensure_ascii=False)}" for k, v in row.items()]
        L += [",\n".join(items), "}", "```", ""]
    return L if examples else []


def _annotator_lines(summary: Mapping[str, Any] | None) -> list[str]:
    L = ["## Annotators", ""]
    if not summary:
        return L + ["No per-annotator annotations were given to `build` (`--annotations`), so who annotated what is "
                    "not in this card.", ""]
    L += ["| handle | role | segments annotated |", "|---|---|---|"]
    L += [f"| {a['handle']} | {a['role']} | {a['segments']} |" for a in summary["annotators"]]
    L += ["", "Annotators per segment: " + ", ".join(f"{k}: {v} segment(s)" for k, v in summary["annotators_per_segment"].items())
          + "; gold from " + ", ".join(f"{k} {v}" for k, v in summary["gold_sources"].items()) + ".", ""]
    L += ["| kind | label | agreement | measure | labels compared |", "|---|---|---|---|---|"]
    L += [f"| {a['kind']} | {a['label']} | {'n/a' if a['value'] is None else a['value']} | {a['measure']} | {a['n']} |"
          for a in summary["agreement_per_label"]]
    L += ["", "Agreement is measured between annotators only: the adjudicator and any imported gold source are left "
          "out of it. Each annotator's labels are in the `annotations` configuration (`role` annotator, adjudicator, "
          "ground_truth or gold; `gold_source` adjudicator, ground_truth or vote), for studying disagreement.", ""]
    return L


def _baseline_lines(results: Mapping[str, Any] | None) -> list[str]:
    L = ["## Baseline results", ""]
    if not results:
        return L + ["No `benchmark` results were given to `build` (`--results results.json`).", ""]
    for w in results.get("warnings", ()):
        L += [f"> **Warning:** {w}", ""]
    L += ["| config | baseline | metric | score | 95% CI |", "|---|---|---|---|---|"]
    for e in results["baselines"]:
        score = "n/a" if e["score"] is None else f"{e['score']:.4f}"
        ci = f"[{e['ci'][0]:.4f}, {e['ci'][1]:.4f}]" if e["ci"] else "n/a"
        L.append(f"| {e['config']} | {e['baseline']} | {e['primary_metric']} | {score} | {ci} |")
    L += ["", f"Trained on `{results['train_split']}`, scored on `{results['eval_split']}` by `dataset-builder benchmark` "
          f"(scorer {results['scorer_version']}, seed {results['seed']}); see docs/scoring.md for when a score is n/a.", ""]
    return L
