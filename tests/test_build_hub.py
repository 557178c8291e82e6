"""Tests of the dataset as the Hub and a researcher see it: article fields on rows, the
``annotations`` configuration, the card's Hub metadata and sections, its offline validation, the plot."""

from __future__ import annotations

import dataclasses

import pytest
from datasets import load_dataset

from dataset_builder.build import build_dataset, load_built
from dataset_builder.build.hub import PLACEHOLDER, size_category, validate_readme
from dataset_builder.build.plot import _plot
from dataset_builder.errors import SchemaError
from dataset_builder.records import Annotation, Article
from dataset_builder.splits import assign_splits
from test_build import SCHEMA, make_gold


def _people(gold: list[Annotation]) -> list[Annotation]:
    """Per-annotator records: 'adj' (the adjudicator) copies gold on the first article, 'ann1' and 'ann2' on all,
    'ann2' with its stances flipped to disagree."""
    out = []
    for g in gold:
        if g.article_id == "art-00":
            out.append(dataclasses.replace(g, annotator="adj", adjudicator=True))
        out.append(dataclasses.replace(g, annotator="ann1"))
        flipped = tuple(dataclasses.replace(s, label="favor" if s.label != "favor" else "against") for s in g.stances)
        out.append(dataclasses.replace(g, annotator="ann2", stances=flipped))
    return out


@pytest.fixture(scope="module")
def hub_built(tmp_path_factory):
    articles, gold = make_gold()
    articles = [dataclasses.replace(a, title=f"Title {a.id}", date="2024-05-01", source="Wire", url=f"https://x.test/{a.id}")
                if a.id != "art-01" else a for a in articles]
    manifest = assign_splits(gold, articles).manifest
    out = tmp_path_factory.mktemp("hub")
    results = {"train_split": "train", "eval_split": "test", "scorer_version": "1.0.0", "seed": 0,
               "warnings": ["stance/test (3 rows) is too small to rank baselines"],
               "baselines": [{"config": "stance", "baseline": "majority", "primary_metric": "f_avg", "score": None, "ci": []}]}
    report = build_dataset(gold, manifest, SCHEMA, out, articles=articles, annotations=_people(gold), results=results)
    return {"out": out, "report": report, "articles": articles, "gold": gold, "manifest": manifest}


def test_rows_carry_the_articles_title_date_source_url(hub_built):
    for config in ("ner", "stance"):
        rows = [r for split in load_built(hub_built["out"], config).values() for r in split]
        by_article = {r["article_id"]: r for r in rows}
        assert by_article["art-00"]["title"] == "Title art-00" and by_article["art-00"]["url"] == "https://x.test/art-00"
        assert (by_article["art-01"]["title"], by_article["art-01"]["date"], by_article["art-01"]["source"]) == (None, None, None)


def test_annotations_config_holds_each_annotators_labels_and_loads_offline(hub_built):
    ds = load_dataset(str(hub_built["out"]), "annotations")
    rows = [r for split in ds.values() for r in split]
    first = [r for r in rows if r["segment_id"] == "art-00-0"]
    assert [(r["annotator"], r["role"]) for r in first] == [("adj", "adjudicator"), ("ann1", "annotator"), ("ann2", "annotator"),
                                                           ("gold", "gold")]
    assert {r["gold_source"] for r in first} == {"adjudicator"}
    assert {r["gold_source"] for r in rows if r["article_id"] == "art-02"} == {"vote"}
    assert first[2]["stances"][0]["label"] != first[3]["stances"][0]["label"]  # disagreement kept
    counts = hub_built["report"].annotations
    assert counts["read"] == counts["kept"] + counts["not_in_a_split"] and counts["kept"] == len(_people(hub_built["gold"]))


def test_readme_passes_the_hub_checks_and_has_the_fields(hub_built):
    text = (hub_built["out"] / "README.md").read_text(encoding="utf-8")
    data = validate_readme(text)
    assert data["size_categories"] == ["n<1K"] and data["annotations_creators"] == ["expert-generated"]
    assert data["task_ids"] == ["named-entity-recognition", "multi-class-classification"]
    assert data["language_creators"] == ["found"] and data["multilinguality"] == ["monolingual"]
    assert data["source_datasets"] == ["original"] and "news" in data["tags"]
    assert [c["config_name"] for c in data["configs"]] == ["ner", "stance", "annotations"]


def test_card_sections_filled_from_the_data_and_placeholders_marked(hub_built):
    card = (hub_built["out"] / "DATASET_CARD.md").read_text(encoding="utf-8")
    for heading in ("## Source data", "## Personal and sensitive information", "## Uses", "## Bias, risks and limitations",
                    "## Annotators", "## Example rows", "## Baseline results", "## Citation"):
        assert heading in card, heading
    assert "| adj | adjudicator | 3 |" in card and "| ann1 | annotator | 36 |" in card
    assert "Annotators per segment: 2: 33 segment(s), 3: 3 segment(s)" in card
    assert "| entity | PER | 1.0 | pairwise exact-span F1 |" in card
    assert "| stance | favor |" in card
    assert "> **Warning:** stance/test (3 rows) is too small to rank baselines" in card
    assert "| stance | majority | f_avg | n/a | n/a |" in card
    assert PLACEHOLDER.format("who holds the copyright of the news texts") [:40] in card
    assert "author = {TO BE WRITTEN" in card and "year = {TO BE WRITTEN" in card
    assert "**Warning:** no licence was given" in card  # licence 'unknown'
    assert any("licence 'unknown'" in w for w in hub_built["report"].warnings)


def test_validate_readme_refuses_what_the_hub_would(hub_built):
    text = (hub_built["out"] / "README.md").read_text(encoding="utf-8")
    with pytest.raises(SchemaError, match=r"metadata size_categories value 'tiny' is not one the Hub knows; expected \['unknown', 'n<1K'"):
        validate_readme(text.replace("- n<1K", "- tiny", 1))
    with pytest.raises(SchemaError, match=r"metadata annotations_creators value 'robots' is not one the Hub knows"):
        validate_readme(text.replace("- expert-generated", "- robots", 1))
    with pytest.raises(SchemaError, match=r"no YAML metadata block at the top"):
        validate_readme("# just a title\n")
    with pytest.raises(SchemaError, match=r"the Hub cannot read its metadata \(repo card metadata block should be a dict\)"):
        validate_readme("---\n- a\n- b\n---\n# t\n")


def test_size_category_boundaries():
    assert [size_category(n) for n in (0, 999, 1000, 9999, 10_000, 250_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "1K<n<10K", "10K<n<100K", "100K<n<1M"]


def test_plot_shows_counts_so_small_splits_look_small(tmp_path):
    # Same shares, different counts: the PNGs must differ (counts on the bars, n= in the legend).
    def stats(scale):
        return {"stance": {s: {"labels": {0: 1 * scale, 1: 1 * scale}} for s in ("train", "validation", "test")}}
    _plot(stats(1), (), ("favor", "against", "neutral"), tmp_path / "a.png")
    _plot(stats(12), (), ("favor", "against", "neutral"), tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()


def test_build_without_articles_or_annotations_warns(tmp_path):
    articles, gold = make_gold(n_articles=3)
    report = build_dataset(gold, assign_splits(gold, articles).manifest, SCHEMA, tmp_path / "ds", license="cc-by-4.0")
    assert "annotations" not in report.configs
    assert [w.split(":")[0] for w in report.warnings] == ["no articles given", "no per-annotator annotations given"]
    assert isinstance(articles[0], Article)


def test_cli_build_with_articles_annotations_results_and_bad_inputs(tmp_path):
    import json

    from click.testing import CliRunner

    from dataset_builder.cli import cli
    from dataset_builder.jsonl import write_jsonl
    from dataset_builder.splits import write_manifest

    articles, gold = make_gold(n_articles=4)
    articles = [dataclasses.replace(a, title=f"T {a.id}") for a in articles]
    write_jsonl(tmp_path / "gold.jsonl", [g.to_dict() for g in gold])
    write_jsonl(tmp_path / "articles.jsonl", [a.to_dict() for a in articles])
    write_jsonl(tmp_path / "annotations.jsonl", [a.to_dict() for a in _people(gold)])
    (tmp_path / "results.json").write_text(json.dumps({"train_split": "train", "eval_split": "test", "scorer_version": "1",
                                                       "seed": 0, "warnings": [], "baselines": []}))
    write_manifest(assign_splits(gold, articles).manifest, tmp_path / "splits" / "manifest.json")
    args = ["build", str(tmp_path / "gold.jsonl"), "--splits", str(tmp_path / "splits" / "manifest.json"), "--config",
            "entities_stance", "-o", str(tmp_path / "ds"), "--articles", str(tmp_path / "articles.jsonl"),
            "--annotations", str(tmp_path / "annotations.jsonl")]
    result = CliRunner().invoke(cli, [*args, "--results", str(tmp_path / "results.json")])
    assert result.exit_code == 0, result.output
    assert "built ner, stance, annotations" in result.output and "warning: licence 'unknown'" in result.output
    assert load_built(tmp_path / "ds", "ner")["train"][0]["title"].startswith("T art-")
    (tmp_path / "bad.json").write_text("[1]")
    bad = CliRunner().invoke(cli, [*args, "--results", str(tmp_path / "bad.json")])
    assert bad.exit_code == 1 and bad.output.startswith("error: ")
    assert "bad.json: expected a JSON object, got list; pass the results.json 'benchmark' wrote." in bad.output
    gold_as_annotations = CliRunner().invoke(cli, [*args[:-1], str(tmp_path / "gold.jsonl")])
    assert gold_as_annotations.exit_code == 1
    assert "gold.jsonl:1: annotator is 'gold'; pass the per-annotator annotations.jsonl" in gold_as_annotations.output
