"""Ingest: every input row becomes an article or a reported rejection."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dataset_builder.cli import cli
from dataset_builder.errors import InputError
from dataset_builder.ingest import (
    DEFAULT_RULES,
    BoilerplateRule,
    clean_text,
    content_id,
    find_control_character,
    ingest,
    load_rules,
)
from dataset_builder.records import Article

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "sample_articles"
BOILERPLATE_LINE = " date 2020-02-04 related media assets (image or videos) available. Click to see the gallery."


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# --- the seed articles -------------------------------------------------------------------


def test_seed_articles_known_answers():
    articles, report = ingest([SAMPLES])
    assert [a.meta["source_file"] for a in articles] == ["000_80c5f8d96db6a03b.txt", "002_1b75015fd539d3f9.txt"]
    first, second = articles
    raw_first = (SAMPLES / "000_80c5f8d96db6a03b.txt").read_text(encoding="utf-8")
    assert first.text == raw_first.strip()  # clean wire story: nothing removed
    assert first.date is None
    assert second.text.startswith("MOSCOW: Russian Foreign Minister Sergei Lavrov will visit Venezuela")
    assert "gallery" not in second.text and "related media" not in second.text
    assert second.date == "2020-02-04" and second.meta["boilerplate_date"] == "2020-02-04"
    assert second.text.endswith("Zakharova said.")
    assert [(r.line, r.rule, r.text) for r in report.removed_lines] == [(1, "scraped_date_gallery", BOILERPLATE_LINE)]
    assert report.removed_lines[0].article_id == second.id
    assert (report.read, report.kept, report.rejected) == (2, 2, [])
    # Ids are content hashes: the same for anyone, anywhere.
    for article in articles:
        assert article.id == hashlib.sha256(article.text.encode("utf-8")).hexdigest()[:16]


def test_ids_do_not_depend_on_file_name_or_location(tmp_path):
    text = (SAMPLES / "002_1b75015fd539d3f9.txt").read_bytes()
    a = ingest([write(tmp_path, "x.txt", text)])[0][0]
    b = ingest([SAMPLES / "002_1b75015fd539d3f9.txt"])[0][0]
    assert a.id == b.id and a.text == b.text


# --- formats -----------------------------------------------------------------------------


def test_jsonl_fields_meta_and_given_id(tmp_path):
    rows = [
        {"id": "a1", "text": "Body one.", "title": "T", "date": "2024-01-02", "source": "Wire", "url": "http://x", "desk": "world"},
        {"text": "Body two."},
        {"id": 7, "text": "Body three."},
    ]
    path = write(tmp_path, "a.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    articles, report = ingest([path])
    assert [a.id for a in articles] == ["a1", content_id("Body two."), "7"]
    assert articles[0] == Article("a1", "Body one.", "T", "2024-01-02", "Wire", "http://x", {"desk": "world"})
    assert report.kept == 3


def test_csv_with_quoted_newlines_and_bom(tmp_path):
    data = '\ufeffid,title,text\nc1,Head,"Line one.\nLine two."\nc2,,Other\n'
    articles, report = ingest([write(tmp_path, "a.csv", data)])
    assert [(a.id, a.title, a.text) for a in articles] == [("c1", "Head", "Line one.\nLine two."), ("c2", None, "Other")]
    assert report.read == 2


def test_csv_without_text_column_is_an_error(tmp_path):
    with pytest.raises(InputError, match=r"a\.csv: the CSV header must have a 'text' column; found \['id', 'body'\]"):
        ingest([write(tmp_path, "a.csv", "id,body\n1,x\n")])


def test_csv_row_with_too_many_fields_is_rejected_with_its_line(tmp_path):
    articles, report = ingest([write(tmp_path, "a.csv", "id,text\n1,ok\n2,too,many\n")])
    assert [a.id for a in articles] == ["1"]
    assert [(r.reason, r.source) for r in report.rejected] == [("bad_csv", f"{tmp_path / 'a.csv'}:3")]


# --- bad input: rejected with a reason that names the file and line ----------------------


@pytest.mark.parametrize(
    "name, data, reason, message",
    [
        ("empty.txt", b"", "empty", r"empty\.txt: empty file"),
        ("blank.txt", b"  \n\t\n", "empty", r"blank\.txt: empty file"),
        ("only_bp.txt", BOILERPLATE_LINE.encode() + b"\n", "empty_text", r"only_bp\.txt: article text is only boilerplate"),
        ("bin.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "control_character",
         r"bin\.txt: the file holds control character U\+001A at line 2, column 1; control characters are not news text"),
        ("nul.txt", b"An article\n with a NUL\x00.", "control_character",
         r"nul\.txt: the file holds control character U\+0000 at line 2, column 12"),
        ("esc.txt", b"Colour \x1b[31mred\x1b[0m.", "control_character", r"esc\.txt: the file holds control character U\+001B"),
        ("jpeg.txt", b"\xff\xd8\xff\xe0\x00\x10JFIF\x81", "control_character",
         r"jpeg\.txt: looks binary: it is neither UTF-8 nor cp1252 and holds control character U\+0000 at line 1, column 5"),
        ("bad.txt", b"caf\xc3\xa9 \x81 x", "encoding", r"bad\.txt: not UTF-8 \(byte 0x81 at offset 6\) and not cp1252"),
    ],
)
def test_bad_txt_files_are_rejected(tmp_path, name, data, reason, message):
    good = write(tmp_path, "good.txt", "A good article.")
    articles, report = ingest([good, write(tmp_path, name, data)])
    assert [a.text for a in articles] == ["A good article."]
    assert [r.reason for r in report.rejected] == [reason]
    assert report.rejected[0].source == str(tmp_path / name)
    assert re.search(message, report.rejected[0].detail), report.rejected[0].detail


@pytest.mark.parametrize(
    "line, reason, message",
    [
        ('{"text": "ok" ', "bad_json", r"a\.jsonl:2: not valid JSON \(Expecting ',' delimiter"),
        ("[1, 2]", "bad_json", r"a\.jsonl:2: expected a JSON object, got list"),
        ('{"title": "no body"}', "missing_text", r"a\.jsonl:2: row has no 'text' field"),
        ('{"text": 5}', "missing_text", r"a\.jsonl:2: 'text' must be a string; got int"),
        ('{"text": "   \\t "}', "empty_text", r"a\.jsonl:2: article text is empty or whitespace only"),
        ('{"text": "x", "title": ["a"]}', "bad_field", r"a\.jsonl:2: 'title' must be a string; got list"),
    ],
)
def test_bad_jsonl_rows_are_rejected_naming_the_line(tmp_path, line, reason, message):
    path = write(tmp_path, "a.jsonl", '{"text": "first"}\n' + line + '\n{"text": "third"}\n')
    articles, report = ingest([path])
    assert [a.text for a in articles] == ["first", "third"]
    assert [r.reason for r in report.rejected] == [reason]
    assert re.search(message, report.rejected[0].detail), report.rejected[0].detail
    assert report.read == 3 and report.kept == 2


# --- control characters: one rule for .txt, JSONL (raw or escaped) and CSV ---------------------


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("a.txt", b"Kick-off\x00 at nine.", r"a\.txt: the file holds control character U\+0000 at line 1, column 9"),
        ("a.jsonl", b'{"text": "Kick-off\\u0000 at nine."}\n',
         r"a\.jsonl:1: 'text' holds control character U\+0000 at line 1, column 9"),
        ("a.jsonl", b'{"text": "Kick-off\x00 at nine."}\n', r"a\.jsonl:1: the line holds control character U\+0000"),
        ("a.jsonl", b'{"text": "Kick-off at nine.", "title": "Cup\\u0007"}\n',
         r"a\.jsonl:1: 'title' holds control character U\+0007 at line 1, column 4"),
        ("a.jsonl", b'{"text": "Double-encoded \\u0085 ellipsis"}\n', r"a\.jsonl:1: 'text' holds control character U\+0085"),
        ("a.csv", b'id,text\nc1,"Kick-off\x00 at nine."\n', r"a\.csv:2: 'text' holds control character U\+0000"),
    ],
)
def test_control_characters_are_rejected_the_same_way_in_every_format(tmp_path, name, data, message):
    articles, report = ingest([write(tmp_path, name, data)])
    assert articles == []
    assert [r.reason for r in report.rejected] == ["control_character"]
    assert re.search(message, report.rejected[0].detail), report.rejected[0].detail
    assert report.read == 1


def test_layout_controls_are_text(tmp_path):
    # tab, CR/LF, VT and FF are not control characters in this sense: kept (CR becomes LF)
    articles, report = ingest([write(tmp_path, "a.jsonl", json.dumps({"text": "A\tB\r\nC\x0bD\x0cE."}) + "\n")])
    assert report.rejected == [] and articles[0].text == "A\tB\nC\x0bD\x0cE."


def test_find_control_character_is_the_one_rule():
    assert find_control_character("ok\t\n\r\x0b\x0c text") is None
    for ch in ["\x00", "\x08", "\x0e", "\x1b", "\x1f", "\x7f", "\x80", "\x9f"]:
        assert find_control_character(f"ab{ch}") == 2, repr(ch)
    assert find_control_character("\xa0 \u2028 \ufeff") is None  # not Cc


# --- CSV: damaged records are rejected, never merged -------------------------------------


def test_csv_unterminated_quote_is_rejected_and_the_rows_it_swallowed_are_read(tmp_path):
    # issue 18.2: c2's quote swallowed c3 (to the end of the file) and the report said "read 2, kept 2"
    path = write(tmp_path, "a.csv", 'id,text,title\nc1,"An ok article.",T\nc2,"Unterminated quote,T\nc3,Third,T\n')
    articles, report = ingest([path])
    assert [(a.id, a.text, a.title) for a in articles] == [("c1", "An ok article.", "T"), ("c3", "Third", "T")]
    assert [(r.reason, r.source) for r in report.rejected] == [("bad_csv", f"{path}:3")]
    assert re.search(r"a\.csv:3: unterminated quote: the quoted field opened on this line runs to the end of the "
                     r"file; only this line is rejected, and line 4 is read again", report.rejected[0].detail)
    assert (report.read, report.kept, len(report.rejected)) == (3, 2, 1)  # records: c1, c2, c3


def test_csv_unterminated_quote_closed_by_a_later_quote(tmp_path):
    # the stray quote pairs with c4's opening quote; everything between would have been merged
    path = write(tmp_path, "a.csv", 'id,text,title\nc1,"ok",T\nc2,"Unterminated,T\nc3,Third,T\nc4,"Fourth",T\n')
    articles, report = ingest([path])
    assert [a.id for a in articles] == ["c1", "c3", "c4"]
    assert [r.source for r in report.rejected] == [f"{path}:3"]
    assert re.search(r"runs to line 5 and breaks there \(',' expected after '\"'\); only this line is rejected, and "
                     r"lines 4-5 are read again", report.rejected[0].detail)


def test_csv_unterminated_quote_on_the_last_line(tmp_path):
    path = write(tmp_path, "a.csv", 'id,text\nc1,ok\nc2,"never closed\n')
    articles, report = ingest([path])
    assert [a.id for a in articles] == ["c1"]
    assert re.search(r"a\.csv:3: a quote opened on this line is never closed", report.rejected[0].detail)


@pytest.mark.parametrize(
    "body, message",
    [
        ('c2,short\n', r"a\.csv:3: the record has 2 fields, fewer than the header's 3; give it every column"),
        ('c2,"He said "hi"",T\n', r"a\.csv:3: malformed CSV \(',' expected after '\"'\)"),
        ('c2,6" tall,T\n', r"a\.csv:3: the record has an odd number of quote characters \(1\): a quote inside an unquoted"),
        ('c2,"Para one.\nPara two.",T,extra\n',
         r"a\.csv:3: the record \(lines 3-4\) has 4 fields, more than the header's 3"),
    ],
)
def test_damaged_csv_records_are_rejected_naming_the_line(tmp_path, body, message):
    path = write(tmp_path, "a.csv", "id,text,title\nc1,ok,T\n" + body + "c9,last,T\n")
    articles, report = ingest([path])
    assert [a.id for a in articles] == ["c1", "c9"]
    assert [r.reason for r in report.rejected] == ["bad_csv"]
    assert re.search(message, report.rejected[0].detail), report.rejected[0].detail
    assert report.read == 3


def test_csv_quoted_fields_with_line_breaks_and_quotes_are_one_record(tmp_path):
    data = ('id,text,title\nc1,"Line one, with a comma.\r\nLine ""two"".\n\nLine four.",T\n'
            '\nc2,"Second ""quoted"" one.",U\n')
    articles, report = ingest([write(tmp_path, "a.csv", data)])
    assert [(a.id, a.text) for a in articles] == [
        ("c1", 'Line one, with a comma.\nLine "two".\n\nLine four.'), ("c2", 'Second "quoted" one.')]
    assert (report.read, report.rejected) == (2, [])
    assert [r.source for r in ingest([write(tmp_path, "b.csv", data + "c3,x\n")])[1].rejected] == [
        f"{tmp_path / 'b.csv'}:8"]  # a record is named by its first line


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet='ab ,"\n\r', max_size=30), min_size=1, max_size=8))
def test_csv_written_by_the_csv_module_reads_back_record_for_record(tmp_path_factory, bodies):
    import csv
    import io

    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(["id", "text"])
    texts = [f"Row {i}: {body}" for i, body in enumerate(bodies)]
    writer.writerows([f"r{i}", t] for i, t in enumerate(texts))
    path = tmp_path_factory.mktemp("csv") / "rows.csv"
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    articles, report = ingest([path], rules=())
    assert report.rejected == []
    assert [(a.id, a.text) for a in articles] == [(f"r{i}", clean_text(t, ())[0]) for i, t in enumerate(texts)]


def test_csv_header_with_an_unterminated_quote_is_an_error(tmp_path):
    with pytest.raises(InputError, match=r"a\.csv:1: the CSV header is malformed \(unexpected end of data, seen at "
                                         r"line 2\); write it as one line of column names"):
        ingest([write(tmp_path, "a.csv", 'id,"text\nc1,x\n')])


def test_cli_ingest_reports_the_bad_csv_line(tmp_path):
    path = write(tmp_path, "a.csv", 'id,text,title\nc1,"An ok article.",T\nc2,"Unterminated quote,T\nc3,Third,T\n')
    result = CliRunner().invoke(cli, ["ingest", str(path), "-o", str(tmp_path / "a.jsonl"), "--strict"])
    assert result.exit_code == 1
    assert f"rejected (bad_csv): {path}:3: unterminated quote" in result.output
    assert "ingest: read 3, kept 2, rejected 1 (bad_csv: 1)" in result.output


def test_missing_path_and_unsupported_type_are_errors(tmp_path):
    with pytest.raises(InputError, match=r"nope\.txt: no such file or folder"):
        ingest([tmp_path / "nope.txt"])
    with pytest.raises(InputError, match=r"a\.pdf: unsupported file type '\.pdf'; expected one of \.txt, \.jsonl, \.csv"):
        ingest([write(tmp_path, "a.pdf", "x")])
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(InputError, match=r"empty_dir: folder holds no \.txt, \.jsonl or \.csv files"):
        ingest([tmp_path / "empty_dir"])


def test_cp1252_is_decoded_with_a_warning(tmp_path):
    data = "The \u201cU.S.\u201d said \u2014 caf\u00e9 \u20ac5.".encode("cp1252")
    articles, report = ingest([write(tmp_path, "win.txt", data)])
    assert articles[0].text == "The \u201cU.S.\u201d said \u2014 caf\u00e9 \u20ac5."
    assert report.warnings == [f"{tmp_path / 'win.txt'}: not UTF-8 (byte 0x93 at offset 4); decoded as cp1252 (Windows-1252)."]


def test_crlf_tabs_emoji_and_nfc(tmp_path):
    decomposed = "Cafe\u0301 opens\r\n\r\nThe \U0001F600 mood\tstays.\r\n"
    articles, _ = ingest([write(tmp_path, "a.txt", decomposed)])
    text = articles[0].text
    assert text == "Caf\u00e9 opens\n\nThe \U0001F600 mood\tstays."
    assert unicodedata.is_normalized("NFC", text) and "\r" not in text


def test_exact_duplicates_are_kept_once_and_reported(tmp_path):
    a = write(tmp_path, "a.txt", "Same story.\n")
    b = write(tmp_path, "b.txt", "Same story.\r\n")  # identical once cleaned
    c = write(tmp_path, "c.jsonl", '{"id": "x", "text": "One."}\n{"id": "x", "text": "Two."}\n')
    articles, report = ingest([a, b, c])
    assert [a.text for a in articles] == ["Same story.", "One."]
    assert [(r.reason, r.source) for r in report.rejected] == [
        ("duplicate", str(b)),
        ("duplicate_id", f"{c}:2"),
    ]
    assert f"same text as article {content_id('Same story.')!r}" in report.rejected[0].detail


def test_ten_megabyte_article(tmp_path):
    paragraph = "Officials said the talks in Moscow would continue on Friday. " * 20 + "\n"
    body = paragraph * (10_000_000 // len(paragraph) + 1)
    articles, report = ingest([write(tmp_path, "big.txt", body)])
    assert report.kept == 1 and len(articles[0].text.encode()) >= 9_900_000


# --- boilerplate rules -------------------------------------------------------------------


def test_boilerplate_scopes_only_touch_the_edges():
    text = "By Jane Doe\nBody says By Jane Doe here.\nBy John Smith\nMore body.\nShare this article\n"
    clean, removed, _ = clean_text(text, DEFAULT_RULES)
    # A byline is boilerplate only at the top; a byline-like line mid-text is kept.
    assert clean == "Body says By Jane Doe here.\nBy John Smith\nMore body."
    assert [(ln, rule) for ln, rule, _ in removed] == [(1, "byline"), (5, "share_widgets")]


def test_custom_rules_file(tmp_path):
    rules = write(tmp_path, "rules.json", json.dumps([{"name": "promo", "pattern": "^PROMO", "scope": "anywhere"}]))
    loaded = load_rules(rules)
    assert loaded == (BoilerplateRule("promo", "^PROMO", "anywhere"),)
    clean, removed, _ = clean_text("Body.\nPROMO buy now\nEnd.", loaded)
    assert clean == "Body.\nEnd." and removed == [(2, "promo", "PROMO buy now")]


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", r"rules\.json: boilerplate rules must be a UTF-8 JSON list"),
        ('{"name": "x"}', r"rules\.json: boilerplate rules must be a JSON list of objects; got dict"),
        ('[{"name": "x"}]', r"rules\.json: rule #0 needs 'name' and 'pattern'"),
        ('[{"name": "x", "pattern": "("}]', r"Boilerplate rule 'x': invalid regular expression"),
        ('[{"name": "x", "pattern": "a", "scope": "middle"}]', r"The 'scope' of boilerplate rule 'x' must be one of 'head', 'tail', 'anywhere'. Got 'middle' instead"),
    ],
)
def test_bad_rules_files(tmp_path, content, message):
    with pytest.raises(InputError, match=message):
        load_rules(write(tmp_path, "rules.json", content))


# --- the account always balances ---------------------------------------------------------

_row = st.one_of(
    st.builds(lambda t: json.dumps({"text": t}), st.text(max_size=40)),
    st.builds(lambda t: json.dumps({"id": t, "text": "x"}), st.sampled_from(["a", "b"])),
    st.sampled_from(["{", "[]", '{"title": 1}', '{"text": null}', "  "]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_row, max_size=12))
def test_kept_plus_rejected_equals_read(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("acc") / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    articles, report = ingest([path])
    non_blank = sum(1 for line in lines if line.strip())
    assert report.read == non_blank
    assert report.kept + len(report.rejected) == report.read == len(articles) + len(report.rejected)
    assert len({a.id for a in articles}) == len(articles)


# --- CLI ---------------------------------------------------------------------------------


def test_cli_ingest_writes_articles_and_report(tmp_path):
    out = tmp_path / "articles.jsonl"
    result = CliRunner().invoke(cli, ["ingest", str(SAMPLES), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["date"] for r in rows] == [None, "2020-02-04"]
    report = json.loads((tmp_path / "articles.report.json").read_text())
    assert (report["read"], report["kept"], report["rejected"]) == (2, 2, 0)
    assert "ingest: read 2, kept 2, rejected 0; boilerplate lines removed 1" in result.output
    # Byte-identical output for identical input.
    first = out.read_bytes()
    CliRunner().invoke(cli, ["ingest", str(SAMPLES), "-o", str(out)])
    assert out.read_bytes() == first


def test_cli_errors_are_one_line_without_traceback(tmp_path):
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "missing"), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {tmp_path / 'missing'}: no such file or folder."
    assert "Traceback" not in result.output


def test_cli_strict_fails_on_rejections_but_keeps_output(tmp_path):
    src = write(tmp_path, "a.jsonl", '{"text": "fine"}\n{oops\n')
    out = tmp_path / "o.jsonl"
    result = CliRunner().invoke(cli, ["ingest", str(src), "-o", str(out), "--strict"])
    assert result.exit_code == 1
    assert f"rejected (bad_json): {src}:2: not valid JSON" in result.output
    assert len(out.read_text().splitlines()) == 1
