"""Corpus import: CoNLL (IOB1/IOB2), NewsMTSC JSONL, SemEval-2016 Task 6 TSV; round trips on a real server.

Fixtures under ``tests/fixtures/corpora`` are small files made for these tests (the good ones and
one file per kind of malformed input); expected offsets are written as ``len("prefix ")`` so that
they do not mirror the reader's arithmetic.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dataset_builder import corpora
from dataset_builder import label_studio as ls
from dataset_builder.cli import cli
from dataset_builder.corpora import (
    CorpusReport,
    parse_label_map,
    read_conll,
    read_corpus,
    read_newsmtsc,
    read_semeval2016,
    write_corpus,
)
from dataset_builder.errors import DatasetBuilderError, InputError, SchemaError
from dataset_builder.label_studio.index import CACHE_ENV
from dataset_builder.normalise import normalise_export
from dataset_builder.schema import load_schema

FIX = Path(__file__).parent / "fixtures" / "corpora"


def spans(corpus) -> list[list[tuple[str, str, int, int]]]:
    return [[(e.text, e.label, e.start, e.end) for e in a.entities] for a in corpus.annotations]


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# --------------------------------------------------------------------------------------------
# CoNLL
# --------------------------------------------------------------------------------------------

S1 = "Lufthansa flies from Zürich to São Paulo ."
S2 = "He told Anna Schmidt Peter was late ."
S3 = "😀 Bundesliga fans cheered ."
S4 = "No names here ."
EXPECTED_CONLL = [
    [("Lufthansa", "ORG", 0, len("Lufthansa")),
     ("Zürich", "LOC", len("Lufthansa flies from "), len("Lufthansa flies from Zürich")),
     ("São Paulo", "LOC", len("Lufthansa flies from Zürich to "), len("Lufthansa flies from Zürich to São Paulo"))],
    [("Anna Schmidt", "PER", len("He told "), len("He told Anna Schmidt")),
     ("Peter", "PER", len("He told Anna Schmidt "), len("He told Anna Schmidt Peter"))],
    [("Bundesliga", "MISC", 2, 12)],  # code points: the emoji is one, not two (UTF-16) units
    [],
]


@pytest.mark.parametrize("name, scheme", [("conll_iob1.txt", "iob1"), ("conll_iob2.txt", "iob2")])
def test_conll_iob1_and_iob2_give_the_corpus_spans(name, scheme):
    corpus = read_conll(FIX / name)
    assert corpus.report.scheme == scheme  # decided from the file (auto)
    assert [a.text for a in corpus.annotations] == [S1, S2, S3, S4]
    assert spans(corpus) == EXPECTED_CONLL
    assert corpus.report.label_counts == {"LOC": 2, "MISC": 1, "ORG": 1, "PER": 2}
    assert all(a.annotator == "conll2003-gold" for a in corpus.annotations)


def test_conll_documents_become_articles_sentences_segments_with_exact_offsets():
    corpus = read_conll(FIX / "conll_iob1.txt")
    # three -DOCSTART- lines, the second document empty: it is noted and keeps its number
    assert [a.id for a in corpus.articles] == ["conll-conll-iob1-d00001", "conll-conll-iob1-d00003"]
    assert corpus.report.notes["empty_document"] == 1
    assert corpus.articles[0].text == f"{S1}\n{S2}"
    arts = {a.id: a for a in corpus.articles}
    tokens = [line.split()[0] for line in (FIX / "conll_iob1.txt").read_text("utf-8").splitlines()
              if line.strip() and not line.startswith("-DOCSTART-")]
    assert [t for s in corpus.segments for t in s.text.split(" ")] == tokens  # tokens come back exactly
    for seg in corpus.segments:
        assert arts[seg.article_id].text[seg.start:seg.end] == seg.text
    assert [(s.id, s.index) for s in corpus.segments[:2]] == [("conll-conll-iob1-d00001-s0000", 0),
                                                             ("conll-conll-iob1-d00001-s0001", 1)]
    assert corpus.report.read == corpus.report.kept == 4 and corpus.report.labels_read == 6


def test_conll_without_docstart_gives_one_article_per_sentence_and_reads_two_columns(tmp_path):
    path = write(tmp_path, "ner.txt", "Maduro B-PER\nspoke O\n\nPutin B-PER\nlistened O\n")
    corpus = read_conll(path)
    assert [a.text for a in corpus.articles] == ["Maduro spoke", "Putin listened"]
    assert corpus.report.notes["no_docstart_one_article_per_sentence"] == 1
    assert spans(corpus) == [[("Maduro", "PER", 0, 6)], [("Putin", "PER", 0, 5)]]


def test_conll_b_after_o_is_accepted_in_iob1_and_counted(tmp_path):
    corpus = read_conll(FIX / "conll_iob2_i_after_o.txt", scheme="iob1")
    assert [e for s in spans(corpus) for e in s] == [
        ("EU", "ORG", 0, 2), ("German", "MISC", len("EU rejects "), len("EU rejects German")),
        ("Commission", "ORG", len("The "), len("The Commission"))]
    assert corpus.report.notes["iob1_b_not_after_same_type"] == 2


def test_conll_token_not_in_nfc_is_normalised(tmp_path):
    path = write(tmp_path, "nfd.txt", "Zoe\u0308 B-PER\nspoke O\n")
    corpus = read_conll(path)
    assert corpus.segments[0].text == "Zoë spoke" and spans(corpus) == [[("Zoë", "PER", 0, 3)]]
    assert corpus.report.notes["token_nfc_normalised"] == 1


def test_label_map_renames_and_drops_entity_types():
    corpus = read_conll(FIX / "conll_unknown_label.txt", label_map="GPE=LOC")
    assert spans(corpus) == [[("Caracas", "LOC", len("Talks in "), len("Talks in Caracas"))]]
    dropped = read_conll(FIX / "conll_iob1.txt", label_map={"MISC": ""})
    assert dropped.report.labels_dropped == {"dropped_by_label_map": 1}
    assert dropped.report.labels_read == 6 and dropped.report.labels_kept == 5
    assert "MISC" not in dropped.report.label_counts


# --------------------------------------------------------------------------------------------
# Malformed files: one clear error naming file:line, or a reported rejection with --skip-invalid
# --------------------------------------------------------------------------------------------

MALFORMED = [
    (read_conll, "conll_too_few_columns.txt", {}, InputError,
     r"conll_too_few_columns\.txt:10: 3 columns, too few: expected 4 as on line 3", "bad_columns", 10),
    (read_conll, "conll_iob2_i_after_o.txt", {"scheme": "iob2"}, InputError,
     r"conll_iob2_i_after_o\.txt:10: I-ORG after O \(token 'Commission'\): in IOB2 every chunk starts with B-ORG; "
     r".*--scheme iob1", "iob2_i_opens_chunk", 10),
    (read_conll, "conll_unknown_label.txt", {}, SchemaError,
     r"conll_unknown_label\.txt:5: entity type 'GPE' is not a label of config 'entities' \(LOC, MISC, ORG, PER\); "
     r"map it with --label-map GPE=LABEL", "unknown_label", 5),
    (read_conll, "conll_bad_tag.txt", {}, InputError,
     r"conll_bad_tag\.txt:1: tag 'S-PER' of token 'Maduro' is not O, B-TYPE or I-TYPE", "bad_tag", 1),
    (read_newsmtsc, "newsmtsc_offsets_outside.jsonl", {}, InputError,
     r"newsmtsc_offsets_outside\.jsonl:2: target 1 'Rosneft': \[40, 93\) is outside the sentence of 88 characters",
     "offsets_outside_sentence", 2),
    (read_newsmtsc, "newsmtsc_inclusive_end.jsonl", {}, InputError,
     r"newsmtsc_inclusive_end\.jsonl:1: target 0: mention 'Putin' is not sentence\[15:19\] = 'Puti'; it fits with "
     r"an inclusive 'to'", "mention_mismatch", 1),
    (read_newsmtsc, "newsmtsc_unknown_polarity.jsonl", {}, SchemaError,
     r"newsmtsc_unknown_polarity\.jsonl:3: target 0 polarity 3\.0 is neither in the label map .* add it with "
     r"--label-map 3=LABEL", "unknown_label", 3),
    (read_semeval2016, "semeval2016_too_few_columns.tsv", {}, InputError,
     r"semeval2016_too_few_columns\.tsv:3: 3 tab-separated column\(s\), too few: expected 4 \(ID, Target, Tweet, "
     r"Stance\)", "bad_columns", 3),
    (read_semeval2016, "semeval2016_unknown_label.tsv", {}, SchemaError,
     r"semeval2016_unknown_label\.tsv:4: stance 'UNKNOWN' is neither in the label map", "unknown_label", 4),
]


@pytest.mark.parametrize("reader, name, kwargs, exc, message, reason, line", MALFORMED,
                         ids=[m[1] for m in MALFORMED])
def test_malformed_file_raises_naming_file_and_line(reader, name, kwargs, exc, message, reason, line):
    with pytest.raises(exc, match=message):
        reader(FIX / name, **kwargs)


@pytest.mark.parametrize("reader, name, kwargs, exc, message, reason, line", MALFORMED,
                         ids=[m[1] for m in MALFORMED])
def test_skip_invalid_rejects_the_unit_and_both_ledgers_add_up(reader, name, kwargs, exc, message, reason, line):
    corpus = reader(FIX / name, on_error="skip", **kwargs)
    r = corpus.report
    assert [(x.reason, x.source) for x in r.rejections] == [(reason, f"{FIX / name}:{line}")]
    assert r.read == r.kept + 1 == len(corpus.segments) + 1
    assert r.labels_read == r.labels_kept + sum(r.labels_dropped.values())
    assert sum(r.label_counts.values()) == r.labels_kept == sum(len(a.entities) + len(a.stances)
                                                               for a in corpus.annotations)


def test_a_file_mixing_iob1_and_iob2_names_a_line_of_each_even_when_skipping():
    with pytest.raises(InputError, match=r"conll_iob2_i_after_o\.txt: mixes IOB1 and IOB2: line 10 has an I- tag "
                                         r"that opens a chunk \(IOB1\) and line 3 a B- tag that opens one without "
                                         r"following a tag of its type \(IOB2\); .* --scheme iob1 or iob2"):
        read_conll(FIX / "conll_iob2_i_after_o.txt", on_error="skip")


def test_semeval_without_header_and_bad_options_are_refused(tmp_path):
    path = write(tmp_path, "noheader.tsv", "1\tAtheism\tSome tweet\tNONE\n")
    with pytest.raises(InputError, match=r"noheader\.tsv:1: expected the header ID<TAB>Target<TAB>Tweet<TAB>Stance"):
        read_semeval2016(path)
    with pytest.raises(InputError, match=r"The 'scheme' parameter of read_conll must be one of auto, iob1, iob2\. "
                                         r"Got 'bio' instead\."):
        read_conll(FIX / "conll_iob1.txt", scheme="bio")
    with pytest.raises(InputError, match=r"format 'semeval2016' takes no option scheme"):
        read_corpus("semeval2016", FIX / "semeval2016_cp1252.tsv", scheme="iob1")
    with pytest.raises(SchemaError, match=r"config 'entities' has no stance toward a given target"):
        read_newsmtsc(FIX / "newsmtsc.jsonl", "entities")
    with pytest.raises(SchemaError, match=r"config 'target_stance' has no entity labels"):
        read_conll(FIX / "conll_iob1.txt", "target_stance")


def test_undecodable_and_binary_files_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"bin\.txt: holds control character U\+0000 at line 1, column 4; control "
                                         r"characters are not corpus text"):
        read_conll(write(tmp_path, "bin.txt", b"abc\x00def"))
    # 0x81 is undefined in cp1252 and not UTF-8 either
    with pytest.raises(InputError, match=r"bad\.tsv:2: neither UTF-8 .* nor cp1252 \(byte 0x81"):
        read_semeval2016(write(tmp_path, "bad.tsv", b"ID\tTarget\tTweet\tStance\n1\tX\t\x81\tNONE\n"))


# ingest's one control-character rule (issue 18.9): raw ones refuse the file, at any offset
@pytest.mark.parametrize("reader, name, data, message", [
    (read_conll, "esc.txt", "EU B-ORG\n" * 5000 + "Pay\x1b[0m O\n",
     r"esc\.txt: holds control character U\+001B at line 5001, column 4"),
    (read_semeval2016, "c1.tsv", "ID\tTarget\tTweet\tStance\n1\tX\tA \x85 tweet\tNONE\n",
     r"c1\.tsv: holds control character U\+0085 at line 2, column 7"),
    (read_newsmtsc, "raw.jsonl", '{"sentence_normalized": "A\x00B", "targets": []}\n',
     r"raw\.jsonl: holds control character U\+0000 at line 1, column 27"),
])
def test_control_characters_refuse_a_corpus_file(tmp_path, reader, name, data, message):
    with pytest.raises(InputError, match=message):
        reader(write(tmp_path, name, data))


def test_newsmtsc_escaped_control_character_rejects_its_line(tmp_path):
    line = {"sentence_normalized": "Merkel\u0000 spoke.", "primary_gid": "g1",
            "targets": [{"from": 0, "to": 6, "mention": "Merkel", "polarity": 4.0}]}
    path = write(tmp_path, "esc.jsonl", json.dumps(line) + "\n")
    with pytest.raises(InputError, match=r"esc\.jsonl:1: the sentence holds control character U\+0000 at line 1, "
                                         r"column 7; control characters are not text"):
        read_newsmtsc(path)
    good = dict(line, sentence_normalized="Merkel spoke.", primary_gid="g2")
    corpus = read_newsmtsc(write(tmp_path, "esc.jsonl", json.dumps(line) + "\n" + json.dumps(good) + "\n"),
                           on_error="skip")
    assert [r.reason for r in corpus.report.rejections] == ["control_character"]
    assert (corpus.report.read, corpus.report.kept) == (2, 1)


# issue 18.9: a file in which no unit is found is refused (it used to give 0 sentences and exit 0)
@pytest.mark.parametrize("fmt, name, data, message", [
    ("conll", "docstart.txt", "-DOCSTART- -X- -X- O\n\n-DOCSTART- -X- -X- O\n\n",
     r"docstart\.txt: no sentence found; expected lines of 'token \.\.\. entity tag'"),
    ("conll", "docstart1.txt", "-DOCSTART- -X- O O", r"docstart1\.txt: no sentence found"),
    ("semeval2016", "header.tsv", "ID\tTarget\tTweet\tStance\r\n\r\n",
     r"header\.tsv: no tweet found; expected tweet lines ID<TAB>Target<TAB>Tweet<TAB>Stance after the header"),
] + [(fmt, f"empty-{fmt}.txt", data, rf"empty-{fmt}\.txt: the file is empty \(0 bytes or whitespace only\)")
     for fmt in corpora.FORMATS for data in ("", " \n\t\r\n")])
def test_a_file_without_units_is_refused_by_the_cli(tmp_path, fmt, name, data, message):
    path = write(tmp_path, name, data)
    with pytest.raises(InputError, match=message):
        read_corpus(fmt, path, on_error="skip")
    result = CliRunner().invoke(cli, ["import-corpus", fmt, str(path), "--no-push", "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("error: ")
    assert re.search(message, result.output), result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("reader, name, data, kwargs", [
    (read_newsmtsc, "bom.jsonl", '{"sentence_normalized": "Merkel spoke.", "primary_gid": "g1", "targets": '
                                 '[{"from": 0, "to": 6, "mention": "Merkel", "polarity": 4.0}]}\n', {}),
    (read_conll, "bom.txt", "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n", {"encoding": "utf-8"}),
    (read_semeval2016, "bom.tsv", "ID\tTarget\tTweet\tStance\n1\tX\tA tweet\tNONE\n", {"encoding": "UTF-8"}),
])
def test_a_utf8_bom_is_dropped_by_every_reader(tmp_path, reader, name, data, kwargs):
    plain = reader(write(tmp_path, name, data), **kwargs)
    bom = reader(write(tmp_path, name, b"\xef\xbb\xbf" + data.encode("utf-8")), **kwargs)
    assert bom.articles == plain.articles and bom.annotations == plain.annotations
    assert bom.report.to_dict() == plain.report.to_dict()


# --------------------------------------------------------------------------------------------
# NewsMTSC
# --------------------------------------------------------------------------------------------


def test_newsmtsc_targets_become_one_task_each_with_exclusive_ends_in_code_points():
    corpus = read_newsmtsc(FIX / "newsmtsc.jsonl")
    rows = corpus.segment_rows()
    got = [(r["target"], r["target_start"], r["target_end"], a.stances[0].label)
           for r, a in zip(rows, corpus.annotations)]
    assert got == [
        ("Maduro", 0, len("Maduro"), "favor"),
        ("Rosneft", len("Maduro praised the “historic” deal with "), len("Maduro praised the “historic” deal with Rosneft"),
         "neutral"),
        ("Putin", len("😀 Critics said "), len("😀 Critics said Putin"), "against"),  # 15: code points after 😀
        ("Mr. Sechin", 0, 10, "neutral"), ("Mr. Sechin", 0, 10, "neutral"),  # the corpus lists it twice: kept twice
        ("Merkel", len("Lawmakers welcomed "), len("Lawmakers welcomed Merkel"), "favor"),  # flattened HF row, 1
    ]
    for r in rows:
        assert r["text"][r["target_start"]:r["target_end"]] == r["target"]
    assert len({r["id"] for r in rows}) == 6 and len(corpus.articles) == 4
    assert rows[0]["id"].endswith("-s0000-t00") and rows[1]["id"].endswith("-s0000-t01")
    assert corpus.report.notes == {"further_mentions_ignored": 1, "same_target_span_twice_in_a_sentence": 1}
    assert corpus.report.unit == "target" and corpus.report.read == 6


def test_newsmtsc_offsets_follow_nfc_normalisation(tmp_path):
    sentence = "Cafe\u0301 owner Zoe\u0308 spoke."  # decomposed: NFC shortens both names by one
    start = sentence.index("Zoe\u0308")
    row = {"primary_gid": "g1", "sentence_normalized": sentence,
           "targets": [{"from": start, "to": start + 4, "mention": "Zoe\u0308", "polarity": 6.0}]}
    corpus = read_newsmtsc(write(tmp_path, "nfd.jsonl", json.dumps(row) + "\n"))
    (st_,) = corpus.annotations[0].stances
    assert corpus.segments[0].text == "Café owner Zoë spoke."
    assert (st_.target_start, st_.target_end, st_.target_text) == (len("Café owner "), len("Café owner Zoë"), "Zoë")


def test_newsmtsc_label_map_can_drop_a_polarity_and_it_is_reported():
    corpus = read_newsmtsc(FIX / "newsmtsc.jsonl", label_map="4=")
    r = corpus.report
    assert r.rejected_by_reason() == {"dropped_by_label_map": 3}
    assert (r.read, r.kept, r.labels_read, r.labels_kept) == (6, 3, 6, 3)
    assert "neutral" not in r.label_counts


# --------------------------------------------------------------------------------------------
# SemEval-2016 Task 6
# --------------------------------------------------------------------------------------------


def test_semeval_cp1252_crlf_file_gives_the_target_as_a_given_target_outside_the_text():
    corpus = read_semeval2016(FIX / "semeval2016_cp1252.tsv")
    r = corpus.report
    assert (r.encoding, r.notes) == ("cp1252", {"crlf_line_ends": 1})
    first = corpus.articles[0]
    assert first.text == "God’s love is all we need… #SemST"  # ’ and … are cp1252 0x92 and 0x85; no target glued in
    assert first.meta["corpus_id"] == "101" and "columns" not in first.meta
    assert not any("\r" in a.text for a in corpus.articles)
    rows = corpus.segment_rows()
    assert [x["target"] for x in rows][:2] == ["Atheism", "Hillary Clinton"]
    assert not any("target_start" in x for x in rows)
    assert corpus.annotations[0].stances[0].to_dict() == {"target_text": "Atheism", "label": "against"}
    assert [a.stances[0].label for a in corpus.annotations] == ["against", "favor", "neutral", "favor"]
    assert corpus.schema.name == "given_target_stance"


def test_semeval_all_annotations_file_keeps_its_extra_columns_as_metadata(tmp_path):
    corpus = read_semeval2016(FIX / "semeval2016_all_annotations.txt")
    assert corpus.report.read == 3 and len(corpus.articles) == 3
    first = corpus.articles[0]
    assert first.text == "Faith moves nothing but our own feet. #SemST"
    assert first.meta["columns"] == {"Opinion Towards": "1.  The tweet explicitly expresses opinion about the target.",
                                     "Sentiment": "neg"}
    assert [a.stances[0].target_text for a in corpus.annotations] == ["Atheism", "Atheism", "Feminist Movement"]
    with pytest.raises(InputError, match=r"bad6\.tsv:2: 5 tab-separated column\(s\), too few: expected 6 \(ID, Target, "
                                         r"Tweet, Stance, Opinion Towards, Sentiment\)"):
        read_semeval2016(write(tmp_path, "bad6.tsv", "ID\tTarget\tTweet\tStance\tOpinion Towards\tSentiment\n1\tX\tA tweet\tNONE\t1. x\n"))
    with pytest.raises(SchemaError, match=r"config 'target_stance' takes a span of the text"):
        read_semeval2016(FIX / "semeval2016_cp1252.tsv", "target_stance")


def test_semeval_utf8_with_bom_gives_the_same_records(tmp_path):
    raw = (FIX / "semeval2016_cp1252.tsv").read_bytes().decode("cp1252")
    path = write(tmp_path, "semeval2016_cp1252.tsv", b"\xef\xbb\xbf" + raw.replace("\r\n", "\n").encode("utf-8"))
    a, b = read_semeval2016(FIX / "semeval2016_cp1252.tsv"), read_semeval2016(path)
    assert b.report.encoding == "utf-8" and b.report.notes == {}
    assert [x.to_dict() for x in a.articles] == [x.to_dict() for x in b.articles]


# --------------------------------------------------------------------------------------------
# Label maps, reports, outputs
# --------------------------------------------------------------------------------------------


def test_parse_label_map(tmp_path):
    assert parse_label_map("2=against, 4.0=neutral,FAVOR=favor,MISC=") == {
        2.0: "against", 4.0: "neutral", "FAVOR": "favor", "MISC": ""}
    path = write(tmp_path, "map.json", json.dumps({"6": "favor", "NONE": "neutral"}))
    assert parse_label_map(str(path)) == {6.0: "favor", "NONE": "neutral"}
    with pytest.raises(InputError, match=r"label map entry 'favor' has no '='; write CORPUS=CONFIG pairs"):
        parse_label_map("FAVOR=favor,favor")


def test_report_refuses_counts_that_do_not_add_up():
    with pytest.raises(DatasetBuilderError, match=r"CorpusReport does not add up: sentence read 3 != kept 2"):
        CorpusReport(format="conll", source="x", config="entities", annotator="a", unit="sentence", encoding="utf-8",
                     scheme="iob2", read=3, kept=2, rejections=(), articles=1, segments=2, labels_read=0, labels_kept=0)


def test_write_corpus_is_byte_identical_for_the_same_input(tmp_path):
    write_corpus(read_newsmtsc(FIX / "newsmtsc.jsonl"), tmp_path / "a")
    write_corpus(read_newsmtsc(FIX / "newsmtsc.jsonl"), tmp_path / "b")
    for name in corpora.OUTPUT_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    seg = json.loads((tmp_path / "a" / "segments.jsonl").read_text("utf-8").splitlines()[2])
    assert (seg["target"], seg["target_start"]) == ("Putin", 15)


# --------------------------------------------------------------------------------------------
# Property: the IOB1 and IOB2 renderings of the same chunks read back as exactly those spans
# --------------------------------------------------------------------------------------------

TOKEN = st.text(alphabet=st.sampled_from("abcXYZéß😀'.-"), min_size=1, max_size=6)
PIECE = st.one_of(st.tuples(st.just("O"), st.lists(TOKEN, min_size=1, max_size=1)),
                  st.tuples(st.sampled_from(["PER", "ORG", "LOC", "MISC"]), st.lists(TOKEN, min_size=1, max_size=3)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(PIECE, min_size=1, max_size=6), min_size=1, max_size=4))
def test_iob1_and_iob2_renderings_read_back_as_the_same_spans(tmp_path_factory, sentences):
    tmp = tmp_path_factory.mktemp("prop")
    iob1, iob2, expected = ["-DOCSTART- -X- -X- O", ""], ["-DOCSTART- -X- -X- O", ""], []
    for pieces in sentences:
        pos, prev, want = 0, None, []
        for typ, toks in pieces:
            for k, tok in enumerate(toks):
                if typ == "O":
                    t1 = t2 = "O"
                else:
                    t2 = f"{'B' if k == 0 else 'I'}-{typ}"
                    t1 = f"{'B' if k == 0 and prev == typ else 'I'}-{typ}"
                iob1.append(f"{tok} NN {t1}")
                iob2.append(f"{tok} NN {t2}")
            text = " ".join(toks)
            if typ != "O":
                want.append((text, typ, pos, pos + len(text)))
            pos += len(text) + 1
            prev = typ
        expected.append(want)
        iob1.append("")
        iob2.append("")
    p1 = write(tmp, "a.txt", "\n".join(iob1))
    p2 = write(tmp, "b.txt", "\n".join(iob2))
    got1, got2 = spans(read_conll(p1, scheme="iob1")), spans(read_conll(p2, scheme="iob2"))
    assert got1 == got2 == expected


# --------------------------------------------------------------------------------------------
# CLI without a server
# --------------------------------------------------------------------------------------------


def test_cli_no_push_writes_the_files_and_a_malformed_file_is_one_error_line(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(cli, ["import-corpus", "semeval2016", str(FIX / "semeval2016_cp1252.tsv"), "--no-push",
                             "-o", str(tmp_path / "out")])
    assert ok.exit_code == 0, ok.output
    assert "semeval2016 (cp1252): 4 tweets read, 4 kept, 0 rejected" in ok.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(corpora.OUTPUT_FILES)
    bad = runner.invoke(cli, ["import-corpus", "conll", str(FIX / "conll_too_few_columns.txt"), "--no-push",
                              "-o", str(tmp_path / "bad")])
    assert bad.exit_code == 1
    assert bad.output.strip().splitlines() == [
        f"error: {FIX / 'conll_too_few_columns.txt'}:10: 3 columns, too few: expected 4 as on line 3 (token first, "
        "entity tag last); got 'Blackburn NNP I-NP'"]
    skipped = runner.invoke(cli, ["import-corpus", "conll", str(FIX / "conll_too_few_columns.txt"), "--no-push",
                                  "--skip-invalid", "-o", str(tmp_path / "skip")])
    assert skipped.exit_code == 0 and "rejected (bad_columns)" in skipped.output
    report = json.loads((tmp_path / "skip" / "report.json").read_text("utf-8"))
    assert (report["read"], report["kept"], report["rejected"]) == (2, 1, 1)


# --------------------------------------------------------------------------------------------
# A corpus's own tokens: through the task data, normalise and build, unchanged
# --------------------------------------------------------------------------------------------

CONLL_TOKENS = """-DOCSTART- -X- -X- O

U.S. NNP I-NP B-LOC
officials NNS I-NP O
did VBD I-VP O
n't RB I-VP O
see VB I-VP O
Nokia NNP I-NP B-ORG
's POS B-NP O
profit NN I-NP O
on IN I-PP O
1996-12-06 CD I-NP O
. . O O

Kohl-led JJ I-NP B-MISC
Bonn-based JJ I-NP O
Hans-Dietrich NNP I-NP B-PER
Genscher NNP I-NP I-PER
said VBD I-VP O
it PRP I-NP O
's VBZ I-VP O
up RB I-ADVP O
2.5 CD I-NP O
% NN I-NP O
to TO I-PP O
$ $ I-NP O
1,200 CD I-NP O
. . O O

-DOCSTART- -X- -X- O

New NNP I-NP B-ORG
York-based JJ I-NP I-ORG
Wall-Mart NNP I-NP I-ORG
won VBD I-VP O
n't RB I-VP O
comment VB I-VP O
( ( O O
Reuters NNP I-NP B-ORG
) ) O O
"""


def _tasks_as_exported(corpus) -> list[dict]:
    """The corpus's tasks as Label Studio exports them: ``task_data`` and its labels as a ground-truth
    annotation (what import-corpus pushes; the real server's round trip is the test further down)."""
    labels = {r["segment_id"]: r for r in corpus.label_rows()}
    tasks = []
    for i, (seg, row) in enumerate(zip(corpus.segments, corpus.segment_rows()), start=1):
        result = ls.prediction_result(corpus.schema, seg.id, seg.text, labels[seg.id])
        tasks.append({"id": i, "data": ls.task_data(corpus.schema, seg, row), "drafts": [], "predictions": [],
                      "annotations": [{"id": 100 + i, "completed_by": 7, "result": result, "was_cancelled": False,
                                       "ground_truth": True, "lead_time": 1.0, "updated_at": "2024-01-01T00:00:00Z"}]})
    return tasks


def test_conll_tokens_and_tags_reach_the_dataset_exactly(tmp_path):
    from dataset_builder.build import build_dataset, load_built
    from dataset_builder.build.bio import bio_names
    from dataset_builder.normalise import normalise_tasks
    from dataset_builder.records import SPLIT_NAMES
    from dataset_builder.splits import assign_splits

    path = write(tmp_path, "eng.tokens", CONLL_TOKENS)
    files = CliRunner().invoke(cli, ["import-corpus", "conll", str(path), "--no-push", "-o", str(tmp_path / "in")])
    assert files.exit_code == 0, files.output
    rows = [json.loads(x) for x in (tmp_path / "in" / "segments.jsonl").read_text("utf-8").splitlines()]
    corpus = read_conll(path)
    assert rows == corpus.segment_rows() and all(r["tokens"] for r in rows)
    want = [[(line.split()[0], line.split()[-1]) for line in block.splitlines()]
            for block in re.split(r"\n\s*\n", CONLL_TOKENS) if block.strip() and not block.startswith("-DOCSTART-")]

    results, report = normalise_tasks(_tasks_as_exported(corpus), corpus.schema)
    gold = [r.gold for r in results]
    assert report.tasks.kept == len(want) and all(g.tokens is not None for g in gold)
    out = tmp_path / "dataset"
    built = build_dataset(gold, assign_splits(gold, corpus.articles).manifest, corpus.schema, out, license="cc-by-4.0")
    assert built.spans["kept_aligned"] == sum(1 for sent in want for _, t in sent if t.startswith("B-"))
    names = bio_names(corpus.schema.entity_labels)
    ds = load_built(out, "ner", cache_dir=tmp_path / "cache")
    got = sorted((r["id"], list(zip(r["tokens"], [names[t] for t in r["ner_tags"]]))) for s in SPLIT_NAMES
                 for r in ds[s])
    assert [sent for _, sent in got] == want  # the file's token and tag columns, in order
    again = tmp_path / "again"
    build_dataset(gold, assign_splits(gold, corpus.articles).manifest, corpus.schema, again, license="cc-by-4.0")
    assert {p.name: p.read_bytes() for p in (out / "ner").iterdir()} == {p.name: p.read_bytes() for p in (again / "ner").iterdir()}


def test_a_corpus_goes_from_import_to_dataset_without_label_studio(tmp_path):
    """import-corpus --no-push writes gold.jsonl: split and build take it as they take normalise's."""
    from dataset_builder.build import load_built
    from dataset_builder.build.bio import bio_names
    from dataset_builder.records import SPLIT_NAMES

    path = write(tmp_path, "eng.tokens", CONLL_TOKENS)
    runner = CliRunner()
    res = runner.invoke(cli, ["import-corpus", "conll", str(path), "--no-push", "-o", str(tmp_path / "in")])
    assert res.exit_code == 0, res.output
    gold, articles = tmp_path / "in" / "gold.jsonl", tmp_path / "in" / "articles.jsonl"
    res = runner.invoke(cli, ["split", str(gold), "--articles", str(articles), "--out", str(tmp_path / "splits")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["build", str(gold), "--config", "entities", "--splits",
                              str(tmp_path / "splits" / "manifest.json"), "-o", str(tmp_path / "ds")])
    assert res.exit_code == 0, res.output
    want = [[(line.split()[0], line.split()[-1]) for line in block.splitlines()]
            for block in re.split(r"\n\s*\n", CONLL_TOKENS) if block.strip() and not block.startswith("-DOCSTART-")]
    names = bio_names(load_schema("entities").entity_labels)
    ds = load_built(tmp_path / "ds", "ner", cache_dir=tmp_path / "cache")
    got = sorted((r["id"], list(zip(r["tokens"], [names[t] for t in r["ner_tags"]]))) for s in SPLIT_NAMES for r in ds[s])
    assert [sent for _, sent in got] == want


# --------------------------------------------------------------------------------------------
# Against the real server: import, pull, normalise -> exactly the corpus's labels
# --------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _index_cache_in_tmp(tmp_path, monkeypatch):
    """Each test's segment index cache in its own temporary folder."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "ls-index-cache"))


def _pull_normalise(conn, title: str, config: str, tmp_path: Path) -> tuple[list[dict], dict, list[dict]]:
    pulled = ls.pull_export(conn, title, out_dir=tmp_path / "exports")
    report = normalise_export(pulled.export_path, load_schema(config), tmp_path / "norm")
    gold = [json.loads(x) for x in (tmp_path / "norm" / "gold.jsonl").read_text("utf-8").splitlines()]
    return json.loads(pulled.export_path.read_bytes()), report.to_dict(), gold


def _labels(corpus) -> dict[str, tuple[list, list]]:
    return {a.segment_id: ([e.to_dict() for e in a.entities], [s.to_dict() for s in a.stances])
            for a in corpus.annotations}


@pytest.mark.label_studio
def test_conll_round_trip_through_label_studio_gives_exactly_the_corpus_spans(label_studio, tmp_path):
    env = {"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.api_key}
    args = ["import-corpus", "conll", str(FIX / "conll_iob1.txt"), "--project-title", "corpus conll",
            "-o", str(tmp_path / "out"), "--data-dir", str(tmp_path / "none")]
    first = CliRunner().invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    assert "imported 4" in first.output and "4 with new tasks" in first.output
    again = CliRunner().invoke(cli, args, env=env)  # idempotent: nothing twice (the cached index)
    assert again.exit_code == 0 and "already present 4, imported 0" in again.output and "4 already there" in again.output
    shutil.rmtree(os.environ[CACHE_ENV])  # and with the project listed again (another machine, no cache)
    listed = CliRunner().invoke(cli, args, env=env)
    assert listed.exit_code == 0 and "already present 4, imported 0" in listed.output, listed.output
    assert "0 added to existing tasks, 4 already there" in listed.output

    raw, report, gold = _pull_normalise(label_studio.connection(), "corpus conll", "entities", tmp_path)
    corpus = read_conll(FIX / "conll_iob1.txt")
    assert {g["segment_id"]: (g["entities"], g["stances"]) for g in gold} == _labels(corpus)
    # the corpus's own tokens came back in the task data and went onto gold, for build
    assert {g["segment_id"]: g["tokens"] for g in gold} == {s.id: [list(t) for t in s.tokens] for s in corpus.segments}
    (uid,) = {a["completed_by"] for t in raw for a in t["annotations"]}
    assert [len(t["annotations"]) for t in raw] == [1, 1, 1, 1]
    assert all(a["ground_truth"] is True for t in raw for a in t["annotations"])
    assert ls.ensure_users(label_studio.connection(), ["conll2003-gold@localhost"]) == {"conll2003-gold@localhost": uid}
    assert report["gold"]["from_ground_truth"] == 4 and report["tasks"] == {"read": 4, "kept": 4, "rejected": {}}


@pytest.mark.label_studio
@pytest.mark.parametrize("reader, name, config", [
    (read_newsmtsc, "newsmtsc.jsonl", "target_stance"),
    (read_semeval2016, "semeval2016_cp1252.tsv", "given_target_stance"),
    (corpora.read_fnc1, "fnc1/train_stances.csv", "headline_stance"),
])
def test_stance_round_trip_through_label_studio_gives_exactly_the_corpus_stances(label_studio, tmp_path, reader, name,
                                                                                  config):
    conn = label_studio.connection()
    corpus = reader(FIX / name)
    title = f"corpus {name}"
    pushed = ls.push_corpus(conn, corpus.segment_rows(), {r["segment_id"]: r for r in corpus.label_rows()},
                            corpus.schema, project_title=title, annotator=f"{corpus.annotator}@localhost")
    assert (pushed.push.imported, pushed.with_new_tasks) == (len(corpus.segments),) * 2
    raw, report, gold = _pull_normalise(conn, title, config, tmp_path)
    assert {g["segment_id"]: (g["entities"], g["stances"]) for g in gold} == _labels(corpus)
    if corpus.schema.target_kind == "span":  # the task still pre-marks the target for annotators who re-annotate
        assert all(t["predictions"][0]["model_version"] == ls.TARGET_MODEL_VERSION for t in raw)
    else:  # a given target is task data of its own: no region, and the text is only the text
        assert all(not t.get("predictions") and "target_start" not in t["data"] for t in raw)
        assert sorted(t["data"]["target"] for t in raw) == sorted(r["target"] for r in corpus.segment_rows())


@pytest.mark.label_studio
def test_predictions_mode_and_completing_tasks_that_were_pushed_bare(label_studio, tmp_path):
    conn = label_studio.connection()
    corpus = read_conll(FIX / "conll_iob2.txt")
    labels = {r["segment_id"]: r for r in corpus.label_rows()}
    pre = ls.push_corpus(conn, corpus.segment_rows(), labels, corpus.schema, project_title="corpus preds",
                         mode="predictions", annotator="conll-labels")
    # the sentence with no entity is pre-annotated with the config's explicit "no entities" choice
    assert (pre.with_new_tasks, pre.skipped, pre.push.predictions) == (4, 0, 4)
    raw = json.loads(ls.pull_export(conn, "corpus preds", out_dir=tmp_path / "p").export_path.read_bytes())
    assert all(not t["annotations"] for t in raw)
    got = {t["data"]["segment_id"]: [(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0])
                                     for p in t["predictions"] for r in p["result"] if r["from_name"] == "entity"]
           for t in raw}
    nothing = [r for t in raw for p in t["predictions"] for r in p["result"] if r["from_name"] == "no_entities"]
    assert [r["value"]["choices"] for r in nothing] == [["none"]]
    assert got == {a.segment_id: [(e.start, e.end, e.label) for e in a.entities] for a in corpus.annotations}
    assert {p["model_version"] for t in raw for p in t["predictions"]} == {"conll-labels"}

    # tasks pushed earlier without labels get the corpus annotation, as a voter (--no-ground-truth)
    bare = ls.push_segments(conn, corpus.segment_rows(), "entities", project_title="corpus bare")
    assert bare.imported == 4
    added = ls.push_corpus(conn, corpus.segment_rows(), labels, corpus.schema, project_title="corpus bare",
                           annotator="conll2003-voter@localhost", ground_truth=False)
    assert (added.push.already_present, added.added_to_existing, added.with_new_tasks) == (4, 4, 0)
    again = ls.push_corpus(conn, corpus.segment_rows(), labels, corpus.schema, project_title="corpus bare",
                           annotator="conll2003-voter@localhost", ground_truth=False)
    assert (again.already_present, again.added_to_existing) == (4, 0)
    raw, report, gold = _pull_normalise(conn, "corpus bare", "entities", tmp_path)
    assert [[a["ground_truth"] for a in t["annotations"]] for t in raw] == [[False]] * 4
    assert report["gold"]["from_vote"] == 4
    assert {g["segment_id"]: (g["entities"], g["stances"]) for g in gold} == _labels(corpus)


@pytest.mark.label_studio
def test_label_studio_marks_imported_annotations_ground_truth_unless_told_and_keeps_completed_by(label_studio,
                                                                                                  tmp_path):
    """Why push_corpus always sends ground_truth: Label Studio 1.23.2's own default is True."""
    conn = label_studio.connection()
    uid = ls.ensure_users(conn, ["someone@localhost"])["someone@localhost"]
    text = "EU rejects it."
    result = [{"id": "r1", "from_name": "entity", "to_name": "text", "type": "labels",
               "value": {"start": 0, "end": 2, "text": "EU", "labels": ["ORG"]}}]
    tasks = [{"data": {"text": text, "segment_id": f"gt-{i}", "title": "", "date": ""},
              "annotations": [{"result": result, "completed_by": uid, **extra}]}
             for i, extra in enumerate([{}, {"ground_truth": False}])]
    ls.raw_import(conn, "ground truth default", "entities", tasks)
    raw = json.loads(ls.pull_export(conn, "ground truth default", out_dir=tmp_path).export_path.read_bytes())
    assert [(t["annotations"][0]["ground_truth"], t["annotations"][0]["completed_by"]) for t in raw] == [
        (True, uid), (False, uid)]


def test_push_corpus_checks_its_options_before_any_request():
    conn = ls.Connection(url="http://127.0.0.1:9", api_key="k", source="test")
    with pytest.raises(ValueError, match=r"The 'mode' parameter of push_corpus must be one of annotations, "
                                         r"predictions\. Got 'gold' instead\."):
        ls.push_corpus(conn, [], {}, "entities", mode="gold")
    with pytest.raises(ValueError, match=r"The 'batch_size' parameter of push_corpus must be an int >= 1\. Got 0"):
        ls.push_corpus(conn, [], {}, "entities", batch_size=0)


# --------------------------------------------------------------------------------------------
# Official splits: --split pins every article, and split/build keep it there
# --------------------------------------------------------------------------------------------


def test_read_corpus_with_a_split_pins_every_article_and_says_so():
    corpus = corpora.read_corpus("conll", FIX / "conll_iob1.txt", split="validation")
    assert [a.meta["split"] for a in corpus.articles] == ["validation"] * 2
    assert corpus.report.split == "validation" and corpus.report.to_dict()["split"] == "validation"
    assert corpus.report.summary().endswith("; every article pinned to validation")
    # the records are otherwise the ones read without a split
    plain = corpora.read_corpus("conll", FIX / "conll_iob1.txt")
    assert "split" not in plain.articles[0].meta and plain.report.split is None
    assert (corpus.segments, corpus.annotations) == (plain.segments, plain.annotations)
    with pytest.raises(InputError, match=r"The 'split' parameter of read_corpus must be one of train, validation, "
                                         r"test\. Got 'dev' instead\."):
        corpora.read_corpus("conll", FIX / "conll_iob1.txt", split="dev")


def test_cli_split_option_writes_the_pin_into_articles_jsonl(tmp_path):
    out = CliRunner().invoke(cli, ["import-corpus", "semeval2016", str(FIX / "semeval2016_cp1252.tsv"), "--no-push",
                                   "--split", "test", "-o", str(tmp_path / "out")])
    assert out.exit_code == 0, out.output
    rows = [json.loads(x) for x in (tmp_path / "out" / "articles.jsonl").read_text("utf-8").splitlines()]
    assert len(rows) == 4 and {r["meta"]["split"] for r in rows} == {"test"}
    bad = CliRunner().invoke(cli, ["import-corpus", "conll", str(FIX / "conll_iob1.txt"), "--no-push",
                                   "--split", "dev", "-o", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "'dev' is not one of 'train', 'validation', 'test'" in bad.output


@pytest.mark.parametrize("name, prefix", [
    ("eng.train", "conll-eng-train"), ("eng.testa", "conll-eng-testa"), ("eng.testb", "conll-eng-testb"),
    ("conll_iob1.txt", "conll-conll-iob1"), ("train.JSONL", "conll-train"),
])
def test_default_id_prefix_keeps_what_tells_conll_files_apart(name, prefix):
    # CoNLL-2003's files differ only in their extension: Path.stem would give all three "eng"
    assert corpora.default_id_prefix("conll", Path("/data") / name) == prefix


def test_two_files_pinned_differently_with_one_id_are_refused_by_split():
    from dataset_builder.splits import pinned_splits

    a = corpora.read_corpus("conll", FIX / "conll_iob1.txt", split="train", id_prefix="same").articles
    b = corpora.read_corpus("conll", FIX / "conll_iob2.txt", split="test", id_prefix="same").articles
    with pytest.raises(InputError, match=r"Article 'same-d00001' is pinned twice, to train and to test.*--id-prefix"):
        pinned_splits(a + b)


CONLL_TRAIN = """-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP I-LOC
1996-08-22 CD I-NP O
"""

CONLL_TEST = """-DOCSTART- -X- -X- O

SOCCER NN B-NP O
- : O O
JAPAN NNP B-NP I-LOC
GET VB B-VP O
LUCKY NNP B-NP O
WIN NNP I-NP O
. . O O

Nadim NNP B-NP I-PER
Ladki NNP I-NP I-PER
"""


@pytest.mark.label_studio
def test_official_splits_survive_import_split_and_build(label_studio, tmp_path):
    """import eng.train-like and eng.testb-like files with --split, then pull, normalise, split, build:
    the dataset's test split holds exactly the test file's sentences, and its train split the train file's."""
    import pyarrow.parquet as pq

    env = {"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.api_key}
    files = {"train": write(tmp_path, "eng.train", CONLL_TRAIN), "test": write(tmp_path, "eng.testb", CONLL_TEST)}
    runner = CliRunner()
    for split, path in files.items():
        res = runner.invoke(cli, ["import-corpus", "conll", str(path), "--split", split, "--project-title",
                                  "official splits", "-o", str(tmp_path / split), "--data-dir", str(tmp_path / "none")],
                            env=env)
        assert res.exit_code == 0, res.output
    _pull_normalise(label_studio.connection(), "official splits", "entities", tmp_path)
    articles = tmp_path / "articles.jsonl"
    articles.write_bytes(b"".join((tmp_path / s / "articles.jsonl").read_bytes() for s in files))
    gold = tmp_path / "norm" / "gold.jsonl"
    res = runner.invoke(cli, ["split", str(gold), "--articles", str(articles), "--out", str(tmp_path / "splits")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["build", str(gold), "--config", "entities", "--splits",
                              str(tmp_path / "splits" / "manifest.json"), "-o", str(tmp_path / "dataset")])
    assert res.exit_code == 0, res.output

    for split, path in files.items():
        expected = sorted(s.text for s in read_conll(path).segments)
        table = pq.read_table(tmp_path / "dataset" / "ner" / f"{split}.parquet", columns=["text"])
        assert sorted(table.column("text").to_pylist()) == expected, split
    assert pq.read_table(tmp_path / "dataset" / "ner" / "validation.parquet").num_rows == 0
    card = (tmp_path / "dataset" / "DATASET_CARD.md").read_text("utf-8")
    assert "Pinned to the corpus's official split (placed there whatever the policy above says): 3 article(s) " \
           "(train 2, test 1)" in card
