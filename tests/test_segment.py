"""Segment: sentences, paragraphs and windows whose offsets always point at their text."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dataset_builder.cli import cli
from dataset_builder.errors import DatasetBuilderError, InputError, SchemaError
from dataset_builder.records import Article, Segment
from dataset_builder.segment import (
    BLANK_CHARS,
    SegmentParameterError,
    read_articles,
    segment_article,
    segment_articles,
    segment_file,
    split_paragraphs,
    split_sentences,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "sample_articles"
HARD_CASES = [
    json.loads(line) for line in (Path(__file__).parent / "data" / "sentence_hard_cases.jsonl").open(encoding="utf-8")
]
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def texts(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[a:b] for a, b in spans]


# --- known answers ----------------------------------------------------------------------------


def test_seed_000_one_sentence_per_line():
    raw = (SAMPLES / "000_80c5f8d96db6a03b.txt").read_text(encoding="utf-8")
    article = Article(id="000", text=raw.strip())
    segments = segment_article(article)
    # Read line by line: each of the 14 lines is exactly one sentence (no inner boundary; the
    # 9th ends inside a quotation, 'spheres."', and the 3rd has "October 3-7.").
    lines = article.text.split("\n")
    assert len(lines) == 14
    assert len(segments) == 14
    assert [s.text for s in segments] == lines
    assert segments[8].text.endswith('military spheres."')
    assert segments[0].id == "000-s0000" and segments[13].id == "000-s0013"
    assert [s.index for s in segments] == list(range(14))
    for s in segments:
        s.check_against(article)


def test_seed_002_sentences_after_boilerplate():
    raw = (SAMPLES / "002_1b75015fd539d3f9.txt").read_text(encoding="utf-8")
    text = raw[raw.index("MOSCOW:") :].strip()  # the boilerplate first line is ingest's business
    sentences = [s.text for s in segment_article(Article(id="002", text=text))]
    assert len(sentences) == 12
    assert sentences[0].startswith(
        "MOSCOW: Russian Foreign Minister Sergei Lavrov will visit Venezuela on Friday (Feb 7)"
    )
    assert sentences[0].endswith("a socialist who Washington wants out of power.")
    # The quotation with an inner "..." is one sentence.
    assert sentences[6] == (
        '"The agenda includes a discussion of steps ... to counteract illegal unilateral sanctions that '
        'worsen the socioeconomic situation in Venezuela," ministry spokeswoman Maria Zakharova said.'
    )
    # A paragraph without a full stop is still a sentence of its own.
    assert (
        sentences[9] == "Maduro has remained in power though, backed by the military as well as Russia, China and Cuba"
    )
    # The last paragraph holds two sentences.
    assert sentences[10].endswith("with the Community of Latin America and Caribbean States (CELAC).")
    assert sentences[11] == "In Cuba, Lavrov will meet his counterpart, Bruno Rodriguez Parrilla, Zakharova said."
    assert len(split_paragraphs(text)) == 11


def test_hard_case_file_is_consistent():
    assert len(HARD_CASES) >= 40
    assert len({c["id"] for c in HARD_CASES}) == len(HARD_CASES)
    for case in HARD_CASES:
        # The expected sentences are the whole text, in order, separated only by blanks.
        pos = 0
        for sentence in case["sentences"]:
            at = case["text"].index(sentence, pos)
            assert case["text"][pos:at].strip(BLANK_CHARS) == "", case["id"]
            pos = at + len(sentence)
        assert case["text"][pos:].strip(BLANK_CHARS) == "", case["id"]


@pytest.mark.parametrize("case", HARD_CASES, ids=[c["id"] for c in HARD_CASES])
def test_hard_cases(case):
    assert texts(case["text"], split_sentences(case["text"])) == case["sentences"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One line only.", ["One line only."]),
        (
            "Headline without stop\nBody sentence. Another one.",
            ["Headline without stop", "Body sentence.", "Another one."],
        ),
        ("  Leading and trailing blanks.  \n\n\t", ["Leading and trailing blanks."]),
        ("\u200bZero-width edges.\u200b Next one.\ufeff", ["Zero-width edges.", "Next one."]),
        ("Emoji first 😀. 👩\u200d👩\u200d👧 family.", ["Emoji first 😀.", "👩\u200d👩\u200d👧 family."]),
        ("Old Mac\rline ends.\u2028Unicode line separator.", ["Old Mac", "line ends.", "Unicode line separator."]),
        ("", []),
        (" \n\u200b\n\t", []),
    ],
)
def test_split_sentences_edges(text, expected):
    assert texts(text, split_sentences(text)) == expected


# --- paragraphs and windows, offsets written by hand --------------------------------------------

HEADLINE = "Russia backs Maduro"
P1 = "Lavrov will visit on Friday. He flies on Wednesday."
P2 = "Maduro has remained in power."
PARA_TEXT = f"{HEADLINE}\n\n  {P1}\n{P2}\n"


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        (
            "paragraph",
            [
                (0, len(HEADLINE)),
                (len(f"{HEADLINE}\n\n  "), len(f"{HEADLINE}\n\n  {P1}")),
                (len(f"{HEADLINE}\n\n  {P1}\n"), len(f"{HEADLINE}\n\n  {P1}\n{P2}")),
            ],
        ),
        (
            "sentence",
            [
                (0, len(HEADLINE)),
                (len(f"{HEADLINE}\n\n  "), len(f"{HEADLINE}\n\n  Lavrov will visit on Friday.")),
                (len(f"{HEADLINE}\n\n  Lavrov will visit on Friday. "), len(f"{HEADLINE}\n\n  {P1}")),
                (len(f"{HEADLINE}\n\n  {P1}\n"), len(f"{HEADLINE}\n\n  {P1}\n{P2}")),
            ],
        ),
    ],
)
def test_units_hand_computed(unit, expected):
    article = Article(id="a1", text=PARA_TEXT)
    segments = segment_article(article, unit=unit)
    assert [(s.start, s.end) for s in segments] == expected
    assert [s.unit for s in segments] == [unit] * len(expected)
    letter = unit[0]
    assert [s.id for s in segments] == [f"a1-{letter}{i:04d}" for i in range(len(expected))]
    for s in segments:
        s.check_against(article)


S = ["One is here.", "Two is here.", "Three is here.", "Four is here.", "Five is here."]
WIN_TEXT = f"{S[0]} {S[1]}\n{S[2]} {S[3]} {S[4]}"
#  sentence starts/ends, by hand
ST = [
    0,
    len(f"{S[0]} "),
    len(f"{S[0]} {S[1]}\n"),
    len(f"{S[0]} {S[1]}\n{S[2]} "),
    len(f"{S[0]} {S[1]}\n{S[2]} {S[3]} "),
]
EN = [
    len(S[0]),
    len(f"{S[0]} {S[1]}"),
    len(f"{S[0]} {S[1]}\n{S[2]}"),
    len(f"{S[0]} {S[1]}\n{S[2]} {S[3]}"),
    len(WIN_TEXT),
]


@pytest.mark.parametrize(
    ("window", "stride", "expected"),
    [
        # 5 sentences, window 3, stride 2: sentences 0-2 and 2-4; a third window (4) would be inside the second.
        (3, 2, [(0, len(f"{S[0]} {S[1]}\n{S[2]}")), (len(f"{S[0]} {S[1]}\n"), len(WIN_TEXT))]),
        (3, 1, [(ST[0], EN[2]), (ST[1], EN[3]), (ST[2], EN[4])]),
        (2, 2, [(ST[0], EN[1]), (ST[2], EN[3]), (ST[4], EN[4])]),  # the last window is shorter
        (1, 1, list(zip(ST, EN))),
        (9, 4, [(0, len(WIN_TEXT))]),  # fewer sentences than the window: one window
    ],
)
def test_windows_hand_computed(window, stride, expected):
    article = Article(id="w", text=WIN_TEXT)
    assert texts(WIN_TEXT, split_sentences(WIN_TEXT)) == S
    segments = segment_article(article, unit="window", window=window, stride=stride)
    assert [(s.start, s.end) for s in segments] == expected
    assert [s.id for s in segments] == [f"w-w{i:04d}" for i in range(len(expected))]
    assert segments[0].text.startswith(S[0]) and segments[-1].text.endswith(S[-1])
    for s in segments:
        s.check_against(article)


# --- parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"unit": "foo"},
            r"The 'unit' parameter of segment_article must be one of 'sentence', 'paragraph', 'window'\. Got 'foo' instead\.",
        ),
        ({"unit": None}, r"The 'unit' parameter of segment_article .* Got None instead\."),
        (
            {"window": 0},
            r"The 'window' parameter of segment_article must be an int in the range \[1, inf\)\. Got 0 instead\.",
        ),
        ({"window": 2.0}, r"The 'window' parameter .* Got 2\.0 instead\."),
        (
            {"stride": 0},
            r"The 'stride' parameter of segment_article must be an int in the range \[1, inf\)\. Got 0 instead\.",
        ),
        ({"stride": True}, r"The 'stride' parameter .* Got True instead\."),
        (
            {"window": 2, "stride": 3},
            r"The 'stride' parameter .* \[1, window=2\] so that every sentence lands in a window\. Got 3 instead\.",
        ),
    ],
)
def test_parameters_validated(kwargs, match):
    article = Article(id="x", text="A sentence.")
    with pytest.raises(SegmentParameterError, match=match):
        segment_article(article, **kwargs)
    assert issubclass(SegmentParameterError, DatasetBuilderError) and issubclass(SegmentParameterError, ValueError)


def test_segment_articles_validates_before_reading():
    def never():
        raise AssertionError("articles were read before the parameters were checked")
        yield  # pragma: no cover

    with pytest.raises(SegmentParameterError, match=r"The 'unit' parameter of segment_articles"):
        segment_articles(never(), unit="words")


# --- streaming and report -----------------------------------------------------------------------


def test_segment_articles_streams_and_reports():
    read: list[str] = []

    def source():
        for i, text in enumerate(["First one. Second one.", "\u200b \u200b", "Only one here"]):
            read.append(str(i))
            yield Article(id=f"a{i}", text=text)

    stream = segment_articles(source(), unit="sentence")
    first = next(stream)
    assert first.id == "a0-s0000" and read == ["0"]  # lazily, one article at a time
    rest = list(stream)
    assert [s.id for s in [first, *rest]] == ["a0-s0000", "a0-s0001", "a2-s0000"]
    report = stream.report
    assert (report.articles_read, report.articles_segmented, report.segments_written) == (3, 2, 3)
    assert [(r.source, r.reason) for r in report.rejections] == [("a1", "no_segments")]
    assert report.articles_segmented + len(report.rejections) == report.articles_read
    assert report.to_dict()["articles_rejected"] == 1
    assert report.summary() == "segment: 3 articles read, 2 segmented, 1 rejected; 3 sentence segments written"


def test_segment_articles_rejects_non_articles():
    with pytest.raises(
        SchemaError, match=r"expects Article records; got dict \(item 1\)\. Build them with Article\.from_dict"
    ):
        list(segment_articles([{"id": "x", "text": "y"}]))


# --- properties ---------------------------------------------------------------------------------

TRICKY = [
    "U.S.",
    "Mr.",
    "p.m.",
    "No.",
    "Feb.",
    "J.R.R.",
    " ",
    "  ",
    ".",
    "?",
    "!",
    "...",
    "\u2026",
    '"',
    "'",
    "\u201d",
    "(",
    ")",
    "\n",
    "\n\n",
    "\t",
    "\u00a0",
    "\u2009",
    "\u3000",
    "\u200b",
    "\u200d",
    "\ufeff",
    "😀",
    "👩\u200d👩",
    "The",
    "he",
    "eBay",
    "1.",
    "3.5",
    "e\u0301",
    "\u2028",
    "\x85",
    "\x0c",
    "\u0301",
    "Zürich",
    "北京",
]
RAW_TEXT = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(max_size=6)), max_size=40).map("".join)
ARTICLE_TEXT = RAW_TEXT.map(lambda t: unicodedata.normalize("NFC", t.replace("\r", "\n"))).filter(
    lambda t: t.strip() != ""
)


def check_sentence_spans(text: str, spans: list[tuple[int, int]]) -> None:
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip(BLANK_CHARS) and piece.strip() == piece
        assert not any(ch in LINE_BREAKS for ch in piece)
        # Nothing between sentences but blanks: no character is lost.
        assert text[previous_end:start].strip(BLANK_CHARS) == ""
        previous_end = end
    assert text[previous_end:].strip(BLANK_CHARS) == ""


@settings(max_examples=300, deadline=None)
@given(RAW_TEXT)
def test_split_sentences_property(text):
    sentences = split_sentences(text)
    check_sentence_spans(text, sentences)
    paragraphs = split_paragraphs(text)
    check_sentence_spans(text, paragraphs)
    # Every sentence lies inside exactly one paragraph.
    for start, end in sentences:
        assert sum(1 for ps, pe in paragraphs if ps <= start and end <= pe) == 1


@settings(max_examples=200, deadline=None)
@given(ARTICLE_TEXT, st.integers(1, 5), st.integers(1, 5))
def test_segment_article_property(text, window, stride):
    stride = min(stride, window)
    article = Article(id="art", text=text)
    by_unit = {
        unit: segment_article(article, unit=unit, window=window, stride=stride)
        for unit in ("sentence", "paragraph", "window")
    }
    for unit, segments in by_unit.items():
        assert [s.index for s in segments] == list(range(len(segments)))
        for s in segments:
            assert isinstance(s, Segment) and s.unit == unit
            assert article.text[s.start : s.end] == s.text
            assert s.text.strip(BLANK_CHARS) == s.text != ""
        if unit != "window":
            check_sentence_spans(text, [(s.start, s.end) for s in segments])
    sentences = [(s.start, s.end) for s in by_unit["sentence"]]
    windows = by_unit["window"]
    starts, ends = [a for a, _ in sentences], [b for _, b in sentences]
    covered: set[int] = set()
    for w in windows:
        # A window starts and ends on sentence boundaries and covers exactly its sentences.
        first, last = starts.index(w.start), ends.index(w.end)
        assert first <= last and last - first + 1 <= window
        assert first % stride == 0
        covered.update(range(first, last + 1))
    assert covered == set(range(len(sentences)))
    assert [w.start for w in windows] == sorted(w.start for w in windows)
    if windows:
        assert windows[-1].end == sentences[-1][1]
        assert len(windows) == max(1, -(-(len(sentences) - window) // stride) + 1)


# --- files and CLI --------------------------------------------------------------------------------


def write_articles(path: Path, articles: list[Article]) -> Path:
    path.write_text("".join(json.dumps(a.to_dict(), ensure_ascii=False) + "\n" for a in articles), encoding="utf-8")
    return path


@pytest.fixture
def articles_jsonl(tmp_path: Path) -> Path:
    texts_ = [
        (SAMPLES / "000_80c5f8d96db6a03b.txt").read_text(encoding="utf-8").strip(),
        "Short one. Two here.\nThird 🎉.",
    ]
    return write_articles(tmp_path / "articles.jsonl", [Article(id=f"id{i}", text=t) for i, t in enumerate(texts_)])


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("{not json", r"articles\.jsonl:2: not valid JSON"),
        (
            '{"id": "x"}',
            r"articles\.jsonl:2: article has no 'text' field; expected the JSONL written by 'dataset-builder ingest'",
        ),
        ('{"id": "x", "text": "   "}', r"articles\.jsonl:2: Article 'x' has no text"),
        ('{"id": "x", "text": "a\\r\\nb"}', r"articles\.jsonl:2: Article 'x' text contains '\\r'"),
        ('{"id": 7, "text": "b"}', r"articles\.jsonl:2: Article\.id must be a string; got int 7"),
        ('{"id": "x", "text": "b", "meta": [1]}', r"articles\.jsonl:2: not a valid article \(.*\); expected the JSONL"),
    ],
)
def test_read_articles_names_file_and_line(tmp_path, line, match):
    path = tmp_path / "articles.jsonl"
    path.write_text('{"id": "ok", "text": "Fine."}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=match):
        list(read_articles(path))


def test_segment_file_is_deterministic_and_atomic(tmp_path, articles_jsonl):
    out = tmp_path / "segments.jsonl"
    report = segment_file(articles_jsonl, out, unit="sentence")
    first = out.read_bytes()
    assert report.segments_written == 14 + 3 == len(first.splitlines())
    segment_file(articles_jsonl, out, unit="sentence")
    assert out.read_bytes() == first  # byte-identical
    rows = [json.loads(line) for line in first.decode("utf-8").splitlines()]
    articles = {a.id: a for a in read_articles(articles_jsonl)}
    for row in rows:
        Segment.from_dict(row).check_against(articles[row["article_id"]])
    # A bad input leaves the previous output untouched and no temporary file behind.
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "ok", "text": "Fine."}\n{oops\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.jsonl:2"):
        segment_file(bad, out)
    assert out.read_bytes() == first
    assert not (tmp_path / "segments.jsonl.tmp").exists()


def test_segment_file_checks_parameters_before_opening(tmp_path):
    with pytest.raises(SegmentParameterError, match=r"The 'stride' parameter of segment_file .* Got 4 instead\."):
        segment_file(tmp_path / "missing.jsonl", tmp_path / "out.jsonl", unit="window", window=3, stride=4)


def test_segment_file_empty_input(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.jsonl: no articles \(the file is empty or blank\)"):
        segment_file(empty, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "n_segments", "unit"),
    [
        ([], 17, "sentence"),
        (["--unit", "paragraph"], 14 + 2, "paragraph"),
        # 14 sentences: windows start at 0, 2, ..., 12 (7); the 3-sentence article gives 1.
        (["--unit", "window", "--window", "3", "--stride", "2"], 7 + 1, "window"),
    ],
)
def test_cli_segment(tmp_path, articles_jsonl, args, n_segments, unit):
    out = tmp_path / "seg.jsonl"
    result = CliRunner().invoke(cli, ["segment", str(articles_jsonl), "-o", str(out), *args])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == n_segments
    assert {r["unit"] for r in rows} == {unit}
    assert f"2 articles read, 2 segmented, 0 rejected; {n_segments} " in result.output
    assert str(out) in result.output


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--unit", "words"], "Invalid value for '--unit'"),
        (["--window", "0"], "Invalid value for '--window'"),
        (
            ["--unit", "window", "--window", "2", "--stride", "3"],
            "Invalid value for '--stride': 3 is more than --window 2; use a stride of at most 2",
        ),
    ],
)
def test_cli_segment_bad_options(tmp_path, articles_jsonl, args, match):
    result = CliRunner().invoke(cli, ["segment", str(articles_jsonl), "-o", str(tmp_path / "o.jsonl"), *args])
    assert result.exit_code != 0
    assert re.search(match, result.output)
    assert "Traceback" not in result.output


def test_cli_segment_bad_input_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["segment", str(bad), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: {bad}:1: article has no 'text' field; expected the JSONL written by 'dataset-builder ingest' "
        "(fields id, text, title, date, source, url, meta)."
    ]
    missing = CliRunner().invoke(cli, ["segment", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o.jsonl")])
    assert missing.exit_code == 1 and "nope.jsonl: no such file." in missing.output


def test_cli_segment_help():
    result = CliRunner().invoke(cli, ["segment", "--help"])
    assert result.exit_code == 0
    for needle in (
        "article.text[start:end] == text",
        "--unit [sentence|paragraph|window]",
        "--window",
        "--stride",
        "Example",
    ):
        assert needle in result.output
