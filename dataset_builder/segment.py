"""Segment stage: articles -> sentences, paragraphs or windows of sentences, with exact offsets.

Input: :class:`~dataset_builder.records.Article` records (text NFC, ``\\n`` line ends).
Output: :class:`~dataset_builder.records.Segment` records, ``index`` from 0 in text order, ids
``f"{article_id}-s{index:04d}"`` (``-p`` for paragraphs, ``-w`` for windows).

Invariants, for every segment of every article:

* ``article.text[segment.start:segment.end] == segment.text`` (half-open code-point offsets);
* the text is never blank and has no leading or trailing whitespace (Python whitespace plus the
  zero-width characters in :data:`BLANK_CHARS`);
* sentences and paragraphs are in text order and do not overlap; every line break is a paragraph
  boundary and no sentence crosses one (a headline line without a full stop is its own sentence);
* a window is the span from its first sentence's start to its last sentence's end, so it starts
  and ends on sentence boundaries; windows overlap when ``stride < window`` and, because
  ``stride <= window`` is required, every sentence lies in at least one window.

The sentence splitter is a compiled-regex candidate scanner with a small abbreviation lexicon,
written here because no library measured reached both the speed and the accuracy the project
needs (see ``docs/sentence_splitters.md`` and ``benchmarks/segment.py``). A candidate boundary is
a run of ``.?!…`` (or a spaced ellipsis ``. . .``) plus closing quotes/brackets and citation
markers (``[6]``) followed by whitespace; it is kept or dropped by looking at the word before it
and the word after it. ``benchmarks/segment.py`` scores it against the libraries on the hard cases,
pysbd's golden rules and an author-marked dev set (``benchmarks/sentence_devset.py``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .errors import DatasetBuilderError, InputError, SchemaError, SegmentParameterError
from .jsonl import read_jsonl, write_jsonl
from .records import SEGMENT_UNITS, Article, Rejection, Segment

__all__ = [
    "BLANK_CHARS",
    "SegmentParameterError",
    "SegmentReport",
    "SegmentStream",
    "read_articles",
    "segment_article",
    "segment_articles",
    "segment_file",
    "split_paragraphs",
    "split_sentences",
]

# --------------------------------------------------------------------------------------------
# Character classes
# --------------------------------------------------------------------------------------------

# Zero-width characters that render as nothing: treated like whitespace at segment edges and
# between sentences, so that no segment is invisible or starts/ends with an invisible character.
_ZERO_WIDTH = "\u180e\u200b\u200c\u200d\u2060\ufeff"
#: Every character that may not start or end a segment (and of which a segment may not consist).
BLANK_CHARS = "".join(chr(c) for c in range(0x110000) if chr(c).isspace()) + _ZERO_WIDTH

_WS = r"[\s" + _ZERO_WIDTH + r"]"
_NWS = r"[^\s" + _ZERO_WIDTH + r"]"
# Line breaks exactly as str.splitlines() knows them: each one ends a paragraph.
_LINE = re.compile(r"[^\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")

# A candidate sentence end: (terminators)(closing quotes/brackets)(whitespace), then a look-ahead
# capture of the next token. The word before it is found with str.rfind, which is several times
# faster than capturing it in the pattern.
_OPENERS = "\"'\u201c\u2018\u00ab([{"
_CLOSERS = "\"'\u201d\u2019\u00bb)\\]}"
# The terminator may be a spaced ellipsis (". . ."); citation markers ("[6]", "[citation needed]")
# after it stay with the sentence they follow.
_CANDIDATE = re.compile(
    r"([.?!\u2026]+(?: [.\u2026]+)*)([" + _CLOSERS + r"]*)((?:\[(?:\d{1,4}|[a-z][a-z ]{0,30})\])*)(" + _WS + r"+)(?![.\u2026])(?=("
    + _NWS + r"*))"
)
_LAST_TOKEN = re.compile(_NWS + r"*\Z")
_OTHER_BLANK = re.compile(r"[^\S ]|[" + _ZERO_WIDTH + r"]")
_INITIALISM = re.compile(r"(?:[A-Za-z]{1,2}\.)+[A-Za-z]{1,3}\Z")  # U.S, J.R.R, Ph.D, a.m, N.Y.S.E
_CAMEL = re.compile(r"[a-z]{1,2}[A-Z]")  # eBay, iPhone, iOS: lower-case first letter, still a sentence start
_QUOTES = "'\"\u2018\u201c"  # a quoted lower-case word may start a sentence: "'diff' assumes"
_OPERATORS = frozenset("*+=<>|/\\&^~%-")  # "* 1)", "-name": never the start of a sentence
_WORD = re.compile(r"[^\W\d_]+")  # leading letters: "It's" -> "It", "EST," -> "EST"

# --------------------------------------------------------------------------------------------
# Lexicon (case-sensitive; the word before the period, without the period)
# --------------------------------------------------------------------------------------------

# Titles and name parts: followed by a name, never the end of a sentence.
_TITLES = frozenset(
    "Mr Mrs Ms Mx Messrs Mme Mlle Dr Drs Prof Profs Gen Gens Sen Sens Rep Reps Gov Govs Lt Col Capt "
    "Cpt Cmdr Cdr Sgt Maj Adm Brig Pvt Cpl Rev Fr Msgr Hon Pres Supt Det Insp Amb Atty St Ste Mt Ft "
    "Sec Secs".split()
)
# Never end a sentence even before a capital: "Smith vs. Jones", "e.g. Cuba".
_NEVER_END = frozenset("vs v e.g i.e cf viz ca approx al".split())
# Take a number after them: "No. 2", "Art. 5", "Feb. 7" (months are added below).
_NUMERIC = frozenset("No Nos Art Arts Vol Vols Fig Figs Ch Para pp p Ref Ex ca approx est".split())
_MONTHS = frozenset("Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec".split())
# Corporate and generational suffixes: end a sentence before a capital unless another
# abbreviation follows ("Co. Ltd.").
_SUFFIXES = frozenset("Inc Corp Co Cos Ltd Bros Plc Jr Sr Esq".split())
# Ambiguous: U.S. states in AP style and "etc.": a sentence ends only before a word that usually
# starts one ("... in the U.S. He said" vs "the U.S. Army").
_AMBIGUOUS = frozenset(
    "etc Ala Ariz Ark Calif Colo Conn Del Fla Ga Ill Ind Kan Ky La Md Mass Mich Minn Miss Mo Mont "
    "Neb Nev Okla Ore Pa Tenn Vt Va Wash Wis Wyo".split()
)
_TIMES = frozenset("a.m p.m A.M P.M".split())
_DAYS_MONTHS = frozenset(
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June "
    "July August September October November December Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec".split()
)
# Words that usually start a sentence: after an ambiguous abbreviation they mean "boundary".
_STARTERS = frozenset("""
    I He She It We They You His Her Its Our Their My Your Him Them Us
    The A An This That These Those There Here Some Many Most Much All Both Each Every Either Neither
    Such Another Other Others Several Few Any No None Nobody Nothing One Two Three
    But And Or Nor So Yet However Meanwhile Still Also Then Now Thus Instead Although Though While
    When Whenever If As After Before Since Because Until Unless Once Where Why What Who Whom Whose
    Which How In On At For By With From To Of Into Over Under Despite During Without Among Between
    Last Next Earlier Later Today Yesterday Tomorrow Asked According Officials Police Critics
    Analysts Experts Authorities
    Did Do Does Is Are Was Were Has Have Had Can Could Should Would
    """.split())
_ABBREVIATIONS = _TITLES | _NEVER_END | _NUMERIC | _MONTHS | _SUFFIXES | _AMBIGUOUS | _TIMES


def _is_abbreviation(word: str) -> bool:
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or _INITIALISM.match(word) is not None


def _next_word(nxt: str) -> str:
    m = _WORD.match(nxt.lstrip(_OPENERS))
    return m.group() if m else ""


def _is_boundary(word: str, terminator: str, closers: str, nxt: str, *, first_token: bool) -> bool:
    """Decide one candidate: ``word`` + ``terminator`` + ``closers`` + whitespace + ``nxt``.

    ``nxt`` is the non-empty token after the whitespace; ``first_token`` says that ``word`` is
    the first token of the sentence being built (a list marker such as "1." when it is a number).
    Rules, in order: a next token that starts with an operator (``*``, ``-``, ``=`` ...) continues
    the sentence; a lower-case next word continues it (unless it is "eBay"-like, or a quoted word
    after a plain full stop: "... option. 'diff' assumes"); an ellipsis after a comma or closing a
    bracket opened in its word ("M_1,...", "[OPTION...]", "[...]") continues it; ``?``, ``!``,
    ellipses, and a period followed by a closing quote or bracket end it; otherwise the word before
    the period decides, with the lexicon above.
    """
    bare = nxt.lstrip(_OPENERS) or nxt
    first = bare[0]
    if first in _OPERATORS and not bare[1:2].isupper():
        return False  # "N * (N - 1) * ... * 1", "find . -name"; not "*Note" (a cross-reference)
    plain = terminator == "." and not closers
    if first.islower():
        if _CAMEL.match(bare) is not None:
            first = "A"  # eBay, iPhone: a sentence may start with them
        elif not (plain and nxt[0] in _QUOTES and word and not _is_abbreviation(word.lstrip(_OPENERS))):
            return False
        else:
            return True  # "... for more information). 'diff' normally assumes"
    if terminator[0] in ".\u2026" and terminator != ".":  # an ellipsis
        if word.endswith(",") or (closers[:1] in (")", "]") and ("(" in word or "[" in word or not word)):
            return False
    word = word.lstrip(_OPENERS)
    if not plain:
        return True
    if not first.isalpha():
        # A digit or symbol: "No. 2", "Feb. 7", "H.R. 1" continue; "Turnout was low. 40 ..." ends.
        return not (_is_abbreviation(word) or (first_token and word.isdigit()))
    # A capitalised word (or a letter of a caseless script).
    nxt_word = _next_word(nxt)
    if word in _TITLES or word in _NEVER_END or word in _NUMERIC:
        # "Sen. John", "Vol. II", "Vol. A" continue; lexicon words that are ordinary words end a
        # sentence before a word that starts one: "on Main St. He works", "was No. The vote", "et al. The".
        return len(nxt_word) > 1 and nxt_word in _STARTERS
    if first_token and (word.isdigit() and len(word) <= 3 or len(word) == 1 and word.isalpha()):
        return False  # "1. Cut taxes.", "a. The work": a list item, not a sentence "1."
    if word in _TIMES:
        # "5 p.m. Friday", "10 a.m. EST" continue; "at 11 p.m. Officials said" ends.
        return not ((len(nxt_word) > 1 and nxt_word.isupper()) or nxt_word in _DAYS_MONTHS)
    if word in _SUFFIXES:
        return not _is_abbreviation(bare.rstrip(".,;:"))  # "Co. Ltd." continues
    if word in _MONTHS:
        return True
    if len(word) == 1 and word.isalpha():
        # An initial ("George W. Bush", "E. A. Poe") unless a word that starts sentences follows:
        # "went to Malcolm X. He accepted".
        return len(nxt_word) > 1 and nxt_word in _STARTERS
    if word in _AMBIGUOUS or _INITIALISM.match(word):
        return nxt_word in _STARTERS  # "in the U.S. He said" vs "the U.S. Army"
    return True


def _split_line(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    """Append the sentences of ``text[start:end]`` (already trimmed, no line break inside)."""
    sent_start = start
    for m in _CANDIDATE.finditer(text, start, end):
        terminator, closers, _, _, nxt = m.groups()
        term_start = m.start()
        word_start = text.rfind(" ", start, term_start) + 1 or start
        word = text[word_start:term_start]
        if _OTHER_BLANK.search(word):  # a tab, no-break space, zero-width space ... inside
            word = _LAST_TOKEN.search(word).group()  # type: ignore[union-attr]  # always matches
            word_start = term_start - len(word)
        if _is_boundary(word, terminator, closers, nxt, first_token=word_start == sent_start):
            out.append((sent_start, m.start(4)))
            sent_start = m.end(4)
    out.append((sent_start, end))


def _trimmed_lines(text: str) -> Iterator[tuple[int, int]]:
    for m in _LINE.finditer(text):
        start, end = m.span()
        line = m.group()
        stripped = line.strip(BLANK_CHARS)
        if not stripped:
            continue
        if len(stripped) != len(line):
            start += len(line) - len(line.lstrip(BLANK_CHARS))
            end = start + len(stripped)
        yield start, end


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """Return the ``[start, end)`` code-point spans of the paragraphs of ``text``.

    A paragraph is one non-blank line, trimmed of :data:`BLANK_CHARS`: wire stories put one
    paragraph per line or separate them by blank lines, so every line break is a boundary.
    """
    return list(_trimmed_lines(text))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return the ``[start, end)`` code-point spans of the sentences of ``text``, in order.

    Every span is non-empty, has no leading or trailing :data:`BLANK_CHARS`, lies inside one
    paragraph (line) and does not overlap the next; ``text[start:end]`` is the sentence. Text
    that is blank gives ``[]``.
    """
    out: list[tuple[int, int]] = []
    for start, end in _trimmed_lines(text):
        _split_line(text, start, end, out)
    return out


# --------------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------------

_ID_LETTER = {"sentence": "s", "paragraph": "p", "window": "w"}


def _check_params(func: str, unit: Any, window: Any, stride: Any) -> None:
    """Validate parameters up front, in scikit-learn's message format."""
    if not isinstance(unit, str) or unit not in SEGMENT_UNITS:
        allowed = ", ".join(repr(u) for u in SEGMENT_UNITS)
        raise SegmentParameterError(f"The 'unit' parameter of {func} must be one of {allowed}. Got {unit!r} instead.")
    for name, value in (("window", window), ("stride", stride)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SegmentParameterError(
                f"The '{name}' parameter of {func} must be an int in the range [1, inf). Got {value!r} instead."
            )
    if stride > window:
        raise SegmentParameterError(
            f"The 'stride' parameter of {func} must be an int in the range [1, window={window}] so that every "
            f"sentence lands in a window. Got {stride!r} instead."
        )


def _spans(text: str, unit: str, window: int, stride: int) -> list[tuple[int, int]]:
    if unit == "paragraph":
        return split_paragraphs(text)
    sentences = split_sentences(text)
    if unit == "sentence":
        return sentences
    spans = []
    n = len(sentences)
    for i in range(0, n, stride):
        last = min(i + window, n) - 1
        spans.append((sentences[i][0], sentences[last][1]))
        if i + window >= n:
            break  # this window reaches the last sentence: a later one would be a subset of it
    return spans


def segment_article(article: Article, *, unit: str = "sentence", window: int = 3, stride: int = 1) -> list[Segment]:
    """Cut one article into segments.

    Parameters
    ----------
    article : Article
    unit : {"sentence", "paragraph", "window"}
        ``"window"`` gives runs of ``window`` consecutive sentences starting every ``stride``
        sentences; the last window is the first one that reaches the article's last sentence (it
        may be shorter), and an article with fewer than ``window`` sentences gives one window.
    window : int >= 1
        Sentences per window (ignored for other units, but still validated).
    stride : int, 1 <= stride <= window
        Sentences between the starts of consecutive windows.

    Returns
    -------
    list of Segment
        In text order, ``index`` from 0, ``article.text[s.start:s.end] == s.text`` for each.
        Empty only when the text holds nothing but whitespace and zero-width characters.

    Raises
    ------
    SegmentParameterError
        ``unit``, ``window`` or ``stride`` out of range.
    """
    _check_params("segment_article", unit, window, stride)
    return _segment(article, unit, window, stride)


def _segment(article: Article, unit: str, window: int, stride: int) -> list[Segment]:
    text = article.text
    prefix = f"{article.id}-{_ID_LETTER[unit]}"
    return [
        Segment(
            id=f"{prefix}{index:04d}",
            article_id=article.id,
            index=index,
            start=start,
            end=end,
            text=text[start:end],
            unit=unit,
        )
        for index, (start, end) in enumerate(_spans(text, unit, window, stride))
    ]


@dataclass
class SegmentReport:
    """What :func:`segment_articles` read and wrote.

    ``articles_segmented + len(rejections) == articles_read`` always; an article is rejected
    (reason ``"no_segments"``) only when its text is nothing but invisible characters.
    ``sentences_per_article`` and ``segments_per_article`` are summary counts over kept articles.
    """

    unit: str
    window: int
    stride: int
    articles_read: int = 0
    articles_segmented: int = 0
    segments_written: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "window": self.window,
            "stride": self.stride,
            "articles_read": self.articles_read,
            "articles_segmented": self.articles_segmented,
            "articles_rejected": len(self.rejections),
            "segments_written": self.segments_written,
            "rejections": [r.to_dict() for r in self.rejections],
        }

    def summary(self) -> str:
        """One line for humans, e.g. ``"segment: 2 articles read, 2 segmented, 0 rejected; 26 sentence segments written"``."""
        unit = self.unit if self.unit != "window" else f"window (window={self.window}, stride={self.stride})"
        return (
            f"segment: {self.articles_read} articles read, {self.articles_segmented} segmented, "
            f"{len(self.rejections)} rejected; {self.segments_written} {unit} segments written"
        )


class SegmentStream(Iterator[Segment]):
    """Iterator of segments over a stream of articles; :attr:`report` fills in as it is consumed.

    Articles are read one at a time, so memory stays bounded by one article's segments.
    """

    def __init__(self, articles: Iterable[Article], *, unit: str, window: int, stride: int) -> None:
        self._articles = iter(articles)
        self._pending: Iterator[Segment] = iter(())
        self.report = SegmentReport(unit=unit, window=window, stride=stride)

    def __iter__(self) -> "SegmentStream":
        return self

    def __next__(self) -> Segment:
        while True:
            seg = next(self._pending, None)
            if seg is not None:
                self.report.segments_written += 1
                return seg
            article = next(self._articles)  # StopIteration ends the stream
            if not isinstance(article, Article):
                raise SchemaError(
                    f"segment_articles expects Article records; got {type(article).__name__} "
                    f"(item {self.report.articles_read + 1}). Build them with Article.from_dict."
                )
            self.report.articles_read += 1
            segments = _segment(article, self.report.unit, self.report.window, self.report.stride)
            if not segments:
                self.report.rejections.append(
                    Rejection("segment", article.id, "no_segments", "text has only invisible characters")
                )
                continue
            self.report.articles_segmented += 1
            self._pending = iter(segments)


def segment_articles(
    articles: Iterable[Article], *, unit: str = "sentence", window: int = 3, stride: int = 1
) -> SegmentStream:
    """Stream the segments of ``articles`` (see :func:`segment_article` for the parameters).

    Returns
    -------
    SegmentStream
        An iterator of :class:`Segment`, article by article, in input order; its ``report``
        (:class:`SegmentReport`) is complete once the iterator is exhausted.

    Raises
    ------
    SegmentParameterError
        At call time, before any article is read, when a parameter is out of range.
    """
    _check_params("segment_articles", unit, window, stride)
    return SegmentStream(articles, unit=unit, window=window, stride=stride)


def read_articles(path: str | Path) -> Iterator[Article]:
    """Yield the :class:`Article` of each line of an articles JSONL file (``ingest``'s output).

    Raises
    ------
    InputError
        The file is missing or not UTF-8, a line is not a JSON object, or a line is not a valid
        article (missing ``id``/``text``, wrong type, text not NFC ...): names ``file:line``.
    """
    for lineno, row in read_jsonl(path):
        try:
            yield Article.from_dict(row)
        except KeyError as exc:
            raise InputError(
                f"{path}:{lineno}: article has no {exc.args[0]!r} field; expected the JSONL written by "
                "'dataset-builder ingest' (fields id, text, title, date, source, url, meta)."
            ) from None
        except DatasetBuilderError as exc:
            raise InputError(f"{path}:{lineno}: {exc}") from None
        except (TypeError, ValueError) as exc:  # e.g. "meta" that is not an object
            raise InputError(
                f"{path}:{lineno}: not a valid article ({exc}); expected the JSONL written by 'dataset-builder ingest'."
            ) from None


def segment_file(
    articles_path: str | Path,
    output_path: str | Path,
    *,
    unit: str = "sentence",
    window: int = 3,
    stride: int = 1,
    progress: Callable[[Iterator[Article]], Iterable[Article]] | None = None,
) -> SegmentReport:
    """Segment an articles JSONL file into a segments JSONL file (one ``Segment.to_dict`` a line).

    The output is written to ``<output>.tmp`` and renamed over ``output_path`` only when every
    article was read, so a bad input line never leaves a truncated or clobbered output.
    ``progress`` may wrap the article iterator (the CLI passes a tqdm bar); the library itself
    prints nothing.

    Returns
    -------
    SegmentReport

    Raises
    ------
    SegmentParameterError
        A parameter is out of range (checked before the file is opened).
    InputError
        See :func:`read_articles`; also when the file holds no article at all.
    """
    _check_params("segment_file", unit, window, stride)
    articles: Iterable[Article] = read_articles(articles_path)
    if progress is not None:
        articles = progress(articles)  # type: ignore[arg-type]
    stream = SegmentStream(articles, unit=unit, window=window, stride=stride)
    output_path = Path(output_path)
    tmp = output_path.with_name(output_path.name + ".tmp")
    try:
        write_jsonl(tmp, (s.to_dict() for s in stream))
        if stream.report.articles_read == 0:
            raise InputError(
                f"{articles_path}: no articles (the file is empty or blank); expected one article JSON "
                "object per line, as written by 'dataset-builder ingest'."
            )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, output_path)
    return stream.report
