"""FNC-1 (stances + bodies CSVs) and the generic CSV/TSV/JSONL pairs importer: a text and a given target per row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataset_builder.cli import cli
from dataset_builder.corpora import read_corpus, read_fnc1, read_pairs
from dataset_builder.errors import InputError, SchemaError

FIX = Path(__file__).parent / "fixtures" / "corpora"


def test_fnc1_joins_stances_and_bodies_one_article_per_body_paragraphs_kept():
    corpus = read_fnc1(FIX / "fnc1" / "train_stances.csv")
    assert corpus.schema.name == "headline_stance" and corpus.report.read == 5 and corpus.report.kept == 5
    assert [a.meta["body_id"] for a in corpus.articles] == ["0", "7", "12"]  # one article per body, file order
    first = corpus.articles[0]
    assert "\n\nResidents said" in first.text and "split" not in first.meta  # the training file is not pinned
    by_seg = {a.segment_id: a for a in corpus.annotations}
    seg = corpus.segments[0]
    assert seg.text == first.text and seg.id == f"{first.id}-h0000"
    assert by_seg[seg.id].stances[0].to_dict() == {"target_text": "Town council closes bridge for repairs", "label": "agree"}
    # the second headline on body 0 is its own segment (one stance unit per pair), in the same article
    assert [s.id for s in corpus.segments if s.article_id == first.id] == [f"{first.id}-h0000", f"{first.id}-h0001"]
    assert sorted(corpus.report.label_counts.items()) == [("agree", 2), ("disagree", 1), ("discuss", 1), ("unrelated", 1)]
    rows = corpus.segment_rows()
    assert rows[0]["target"] == "Town council closes bridge for repairs" and "target_start" not in rows[0]


def test_fnc1_official_test_files_are_pinned_to_test():
    corpus = read_corpus("fnc1", FIX / "fnc1" / "competition_test_stances.csv")
    assert {a.meta["split"] for a in corpus.articles} == {"test"} and len(corpus.articles) == 2
    assert corpus.report.notes == {"pinned_official_test": 2}


def test_fnc1_problems_name_file_and_line(tmp_path):
    (tmp_path / "x_bodies.csv").write_text("Body ID,articleBody\n1,Some body text.\n", encoding="utf-8")
    (tmp_path / "x_stances.csv").write_text("Headline,Body ID,Stance\nA headline,1,agree\nOther,9,agree\n",
                                            encoding="utf-8")
    with pytest.raises(InputError, match=r"x_stances\.csv:3: Body ID '9' is not in x_bodies\.csv"):
        read_fnc1(tmp_path / "x_stances.csv")
    skipped = read_fnc1(tmp_path / "x_stances.csv", on_error="skip")
    assert (skipped.report.read, skipped.report.kept, skipped.report.rejections[0].reason) == (2, 1, "unknown_body")
    (tmp_path / "y_stances.csv").write_text("Headline,Body,Stance\nA,1,agree\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no column 'Body ID'"):
        read_fnc1(tmp_path / "y_stances.csv", bodies=tmp_path / "x_bodies.csv")
    (tmp_path / "z_stances.csv").write_text("Headline,Body ID,Stance\nA,1,agrees\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"z_stances\.csv:2: stance 'agrees' is neither in the label map"):
        read_fnc1(tmp_path / "z_stances.csv", bodies=tmp_path / "x_bodies.csv")
    with pytest.raises(SchemaError, match=r"takes a span of the text"):
        read_fnc1(FIX / "fnc1" / "train_stances.csv", "target_stance")


def test_generic_csv_with_column_options_label_map_and_split_column():
    corpus = read_pairs(FIX / "pairs.csv", columns="text=evidence,target=claim,label=verdict,id=claim_id,split=part",
                        label_map="support=favor,refute=against")
    assert corpus.report.kept == 5
    assert [s.id for s in corpus.segments] == [f"pairs-pairs-{c}" for c in ("c1", "c2", "c3", "c4", "c5")]
    # c2 and c3 share their text: one article, so they share a split
    assert corpus.segments[1].article_id == corpus.segments[2].article_id and len(corpus.articles) == 4
    assert [a.meta["split"] for a in corpus.articles] == ["train", "train", "validation", "test"]
    assert [a.stances[0].label for a in corpus.annotations] == ["favor", "against", "neutral", "against", "favor"]
    assert corpus.annotations[0].stances[0].target_text == "Cats sleep most of the day"


def test_generic_jsonl_and_its_errors(tmp_path):
    corpus = read_corpus("pairs", FIX / "pairs.jsonl", columns={"text": "sentence", "target": "topic", "label": "stance",
                                                                "id": "uid"})
    assert [s.text for s in corpus.segments][0] == "The new library opens at eight every morning."
    assert {a.stances[0].target_text for a in corpus.annotations} == {"public libraries"}
    with pytest.raises(InputError, match=r"unknown role\(s\) body"):
        read_pairs(FIX / "pairs.jsonl", columns="body=sentence")
    with pytest.raises(InputError, match=r"pairs\.jsonl:1: the 'text' column \(text\) is missing or empty"):
        read_pairs(FIX / "pairs.jsonl")
    bad = tmp_path / "p.csv"
    bad.write_text("text,target,label,split\nA text.,T,favor,train\nA text.,T,against,test\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"p\.csv:3: the text is also on line 2 with split 'train', here 'test'"):
        read_pairs(bad, columns="split=split")


def test_cli_imports_fnc1_and_pairs_without_push(tmp_path):
    out = CliRunner().invoke(cli, ["import-corpus", "fnc1", str(FIX / "fnc1" / "train_stances.csv"), "--no-push",
                                   "-o", str(tmp_path / "fnc1")])
    assert out.exit_code == 0, out.output
    rows = [json.loads(x) for x in (tmp_path / "fnc1" / "annotations.jsonl").read_text("utf-8").splitlines()]
    assert rows[0]["stances"] == [{"target_text": "Town council closes bridge for repairs", "label": "agree"}]
    out = CliRunner().invoke(cli, ["import-corpus", "pairs", str(FIX / "pairs.csv"), "--no-push", "--columns",
                                   "text=evidence,target=claim,label=verdict", "--label-map", "support=favor,refute=against",
                                   "-o", str(tmp_path / "pairs")])
    assert out.exit_code == 0, out.output
    assert "pairs (utf-8): 5 pairs read, 5 kept, 0 rejected" in out.output
