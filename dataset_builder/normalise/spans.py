"""The offset and span rules: from a result's ``value`` to checked code point offsets.

Input
    A ``labels`` result's ``value`` (``start``, ``end``, ``text``) and the task text
    (:class:`_TextIndex`: its length and, only when characters outside the BMP occur, the map
    between UTF-16 units and code points).
Output
    ``(start, end)`` in code points, converted, re-aligned and trimmed, or the reason the span is
    rejected (a string); every decision is counted in the run's :class:`~.report.Counts`
    (``conventions``, ``fixes``, ``notes``) under the names of the package docstring's rules.
    :func:`given_tokens`: a task's ``data.tokens`` (a corpus's own tokens), checked.
Invariants
    The returned offsets lie inside the text and ``text[start:end]`` has no edge whitespace, no
    trailing possessive and no edge punctuation that the guidelines keep out of a name
    (:func:`_guideline_edges`).
    There is one path: :meth:`SpanRules.span` answers the common case (both conventions agree,
    ``value.text`` is the slice) first, exactly as its general steps would.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from ..errors import OffsetError
from ..records import _checked_tokens

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_NEAR = 32  # code points either side of the given start in which a re-alignment still counts as "near"
OFFSET_MODES = ("auto", "codepoints", "utf16")


class _TextIndex:
    """The task text with what span checks need: length, UTF-16 map (only when non-BMP chars occur)."""

    __slots__ = ("text", "n", "astral_cp", "astral_u16", "u16_len", "bmp_end")

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        cps = [] if text.isascii() else [m.start() for m in _ASTRAL.finditer(text)]
        self.astral_cp = cps  # code point index of each non-BMP char
        self.astral_u16 = [cp + i for i, cp in enumerate(cps)]  # its UTF-16 index
        self.u16_len = self.n + len(cps)
        # offsets up to here mean the same in code points and UTF-16 (no non-BMP char before)
        self.bmp_end = cps[0] if cps else self.n

    def astral_before(self, cp_end: int) -> bool:
        """True when a non-BMP char lies in ``text[:cp_end]`` (so code points and UTF-16 differ there)."""
        return bool(self.astral_cp) and self.astral_cp[0] < cp_end

    def u16_to_cp(self, u: int) -> int | None:
        """Code point index of UTF-16 index ``u``; None if ``u`` falls inside a surrogate pair or past the end."""
        if u > self.u16_len:
            return None
        k = bisect.bisect_left(self.astral_u16, u)
        if k > 0 and self.astral_u16[k - 1] + 1 == u:
            return None  # between the high and the low surrogate
        return u - k


def given_tokens(value: Any, text: str) -> tuple[tuple[int, int], ...] | str | None:
    """A task's ``data.tokens`` as ``(start, end)`` code-point pairs of ``text`` (checked as
    ``Segment.tokens`` is), None when the task has none, or why they do not fit (a message)."""
    if value is None:
        return None
    try:
        return _checked_tokens("data.tokens", value, text)
    except OffsetError as exc:
        return str(exc)


# ---- the guidelines' edges: what the annotation guidelines keep out of a name ------------------

_APOSTROPHES = frozenset("'\u2019")
_LEAD_PUNCT = frozenset("\"'\u201c\u2018\u00ab([{,;:")  # never start a name (brackets: when unclosed)
_LEAD_CHARS = "".join(sorted(_LEAD_PUNCT)) + " "
_TRAIL_PUNCT = frozenset("\"'\u201d\u2019\u00bb)]},;:.")  # never end one (see _guideline_edges for . and brackets)
_PAIRS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _PAIRS.items()}
_ABBREVIATIONS = frozenset(
    "inc corp co cos ltd plc llc bros jr sr st mt ft dr mr mrs ms prof gen sen rep gov lt col capt sgt adm "
    "ave blvd rd dept univ assn intl no vs".split()
)  # a name may end with their full stop ("Apple Inc.", "Martin Luther King Jr.")
_POSSESSIVE_NAMES = frozenset(
    "mcdonald's|macy's|moody's|sotheby's|christie's|wendy's|kellogg's|lloyd's|denny's|domino's|harrah's|kohl's|"
    "levi's|lowe's|sainsbury's|barron's|hershey's|applebee's|chili's|dillard's|hardee's|claire's|friendly's|"
    "papa john's|ben & jerry's|st john's|st. john's".split("|")
)  # names whose 's is part of the name: kept (noted)


def _ends_with_possessive(sl: str) -> bool:
    return len(sl) > 2 and sl[-1] in "sS" and sl[-2] in _APOSTROPHES and (sl[-3].isalnum() or sl[-3] == ".")


def _guideline_edges(sl: str) -> bool:
    """True when ``sl`` (a span's text) may break a guideline at its edges: a trailing ``'s`` /
    ``’s``, or punctuation at its start or end (the cheap test of the common case's path)."""
    return sl[0] in _LEAD_PUNCT or sl[-1] in _TRAIL_PUNCT or _ends_with_possessive(sl)


def _trim_guideline(text: str, s: int, e: int, counts: Any) -> tuple[int, int]:
    """``[s, e)`` without a trailing possessive [possessive_trimmed] and without edge punctuation
    [punctuation_trimmed] (each counted once per span), whitespace left bare by either trimmed too.

    Kept: the ``'s`` of a name in :data:`_POSSESSIVE_NAMES` [possessive_kept_in_name]; a full stop
    after an abbreviation (:data:`_ABBREVIATIONS`), an initial or inside an initialism (``U.S.``); a
    bracket whose partner is inside the span. A trim that would leave nothing is not made.
    """
    possessive = punctuation = kept_name = False
    while e > s:
        sl = text[s:e]
        if _ends_with_possessive(sl):
            if sl.lstrip(_LEAD_CHARS).replace("\u2019", "'").casefold() in _POSSESSIVE_NAMES:
                kept_name = True
            elif sl[:-2].strip():
                e -= 2
                possessive = True
                continue
        c = sl[-1]
        if c in _TRAIL_PUNCT and len(sl) > 1 and _trailing_goes(sl, c):
            if c in _APOSTROPHES and sl[-2] in "sS":
                possessive = True  # a plural's possessive: "the Ministers'"
            else:
                punctuation = True
            e -= 1
        elif sl[0] in _LEAD_PUNCT and len(sl) > 1 and (sl[0] not in _PAIRS or _PAIRS[sl[0]] not in sl):
            s += 1
            punctuation = True
        else:
            break
        sl = text[s:e]
        stripped = sl.strip()
        if len(stripped) != len(sl):
            s, e = s + len(sl) - len(sl.lstrip()), s + len(sl) - len(sl.lstrip()) + len(stripped)
    if possessive:
        counts.fixes["possessive_trimmed"] += 1
    if punctuation:
        counts.fixes["punctuation_trimmed"] += 1
    if kept_name:
        counts.notes["possessive_kept_in_name"] += 1
    return s, e


def _trailing_goes(sl: str, c: str) -> bool:
    """Whether the trailing ``c`` of ``sl`` is outside the name (see :func:`_trim_guideline`)."""
    if c in _CLOSERS:
        return _CLOSERS[c] not in sl
    if c != ".":
        return True
    if "." in sl[:-1]:
        return False  # an initialism or initials: U.S., J.R.R. Tolkien
    word = sl[:-1].rsplit(None, 1)[-1] if sl[:-1].strip() else ""
    return not (len(word) == 1 or word.casefold() in _ABBREVIATIONS)


def _collapse(s: str) -> str:
    return " ".join(s.split())


def _matches(slice_: str, vt: str) -> int:
    """0: no match; 1: exact; 2: equal after collapsing whitespace runs."""
    if slice_ == vt:
        return 1
    if _collapse(slice_) == _collapse(vt) and _collapse(vt):
        return 2
    return 0


def _find_all(text: str, vt: str) -> list[tuple[int, int]]:
    tokens = vt.split()
    if not tokens:
        return []
    pattern = re.compile(r"\s+".join(re.escape(t) for t in tokens))
    out = []
    pos = 0
    while True:
        m = pattern.search(text, pos)
        if m is None:
            return out
        out.append((m.start(), m.end()))
        pos = m.start() + 1


def _bad_offsets(start: Any, end: Any) -> str | None:
    """Why ``value.start``/``value.end`` cannot be offsets at all (the reason), or None."""
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        return "bad_offsets"
    if start < 0 or end < 0:
        return "negative_offset"
    if end <= start:
        return "end_not_after_start"
    return None


def _readings(start: int, end: int, ti: _TextIndex) -> tuple[bool, int | None, int | None, bool]:
    """``(code point reading inside the text, UTF-16 reading's start and end in code points, it inside the text)``."""
    us, ue = ti.u16_to_cp(start), ti.u16_to_cp(end)
    return end <= ti.n, us, ue, us is not None and ue is not None and ue > us


def _fit(start: int, end: int, us: Any, ue: Any, cp_ok: bool, u_ok: bool, vt: str, ti: _TextIndex) -> str | None:
    """Which reading's slice matches ``value.text``: ``"codepoints"``, ``"utf16"``, ``"both"`` or None.

    An exact match decides before a whitespace-collapsed one (a collapsed match can hide a shift);
    where both readings give the same offsets, a match is ``"both"`` (it proves neither).
    """
    cp_slice = ti.text[start:end] if cp_ok else None
    same = (us, ue) == (start, end)
    u_slice = ti.text[us:ue] if u_ok and not same else None
    for exact in (True, False):
        m_cp = cp_slice is not None and (cp_slice == vt if exact else _matches(cp_slice, vt) == 2)
        m_u = u_slice is not None and (u_slice == vt if exact else _matches(u_slice, vt) == 2)
        if m_cp:
            return "both" if m_u or same else "codepoints"
        if m_u:
            return "utf16"
    return None



# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


class SpanRules:
    """The span rules of one run, in one offsets mode, counting into ``counts``.

    ``entity_from_name`` names the entity control, whose spans in one annotation are evidence of
    that annotation's offsets convention (see :meth:`annotation`).
    """

    def __init__(self, offsets: str, counts: Any, entity_from_name: str | None = None) -> None:
        self.offsets = offsets
        self.counts = counts
        self._conventions = counts.conventions
        self.entity_from_name = entity_from_name
        # the results of the annotation being read (set by its reader) and its convention, decided
        # from them only when a span without evidence of its own needs it (see _auto)
        self.siblings: list = []
        self._convention_of: Any = None
        self._convention: str | None = None

    def span(self, start: Any, end: Any, vt: Any, ti: _TextIndex) -> tuple[int, int] | str:
        """Checked, converted, re-aligned and trimmed code point offsets of ``value.start``, ``value.end`` and
        ``value.text`` (None where missing), or a rejection reason."""
        # The common case, as the steps below decide it: int offsets inside the text with no character
        # outside the BMP before the end (both conventions agree), value.text the slice, nothing to trim.
        if (
            type(start) is int and type(end) is int and 0 <= start < end <= ti.bmp_end and type(vt) is str
            and ti.text[start:end] == vt and not vt[0].isspace() and not vt[-1].isspace() and not _guideline_edges(vt)
        ):
            self._conventions["identical"] += 1
            return (start, end)
        bad = _bad_offsets(start, end)
        if bad:
            return bad
        if not isinstance(vt, str):
            if vt is not None:
                self.counts.notes["value_text_not_string"] += 1
            vt = None
        mode = self.offsets
        if mode == "utf16":
            if end > ti.u16_len:
                return "past_end"
            s, e = ti.u16_to_cp(start), ti.u16_to_cp(end)
            if s is None or e is None:
                return "inside_surrogate_pair"
            self.counts.conventions["utf16" if ti.astral_before(e) else "identical"] += 1
            return self._check_text(s, e, vt, ti)
        if mode == "codepoints" or not ti.astral_cp or (end <= ti.n and not ti.astral_before(end)):
            # no non-BMP char before the end: both readings give the same code points
            if end > ti.n:
                return "past_end"
            self.counts.conventions["codepoints" if ti.astral_before(end) else "identical"] += 1
            return self._check_text(start, end, vt, ti)
        return self._auto(start, end, vt, ti)

    def _auto(self, start: int, end: int, vt: str | None, ti: _TextIndex) -> tuple[int, int] | str:
        cp_ok, us, ue, u_ok = _readings(start, end, ti)
        if not cp_ok and not u_ok:
            return "past_end"
        fit = _fit(start, end, us, ue, cp_ok, u_ok, vt, ti) if vt is not None else None
        conventions = self.counts.conventions
        if fit == "codepoints":
            conventions["codepoints"] += 1
            return self._check_text(start, end, vt, ti)
        if fit == "utf16":
            conventions["utf16"] += 1
            return self._check_text(us, ue, vt, ti)
        # no evidence of its own: the span follows its annotation's convention, when a sibling proves one
        convention = self.annotation(ti)
        if convention == "utf16" and u_ok:
            conventions["followed_annotation_utf16"] += 1
            return self._check_text(us, ue, vt, ti)
        if convention == "codepoints" and cp_ok:
            conventions["followed_annotation_codepoints"] += 1
            return self._check_text(start, end, vt, ti)
        if fit == "both":
            # both readings fit when the same text recurs; code points are then preferred (counted)
            conventions["both_fit_chose_codepoints"] += 1
            return self._check_text(start, end, vt, ti)
        if cp_ok:
            conventions["assumed_codepoints" if vt is None else "unconfirmed_codepoints"] += 1
            return self._check_text(start, end, vt, ti)
        # only the UTF-16 reading fits the text
        conventions["utf16_only_fit" if vt is None else "unconfirmed_utf16"] += 1
        return self._check_text(us, ue, vt, ti)

    def annotation(self, ti: _TextIndex) -> str | None:
        """The offsets convention the spans of the annotation being read prove, or None.

        A span (a result of the entity control in :attr:`siblings`) is evidence when its
        ``value.text`` matches the slice under exactly one reading; the annotation has a convention
        when its evidence all points one way. Decided once per annotation, and only when a span
        without evidence of its own asks (texts with characters outside the BMP, ``auto`` mode).
        """
        siblings = self.siblings
        if self._convention_of is siblings:
            return self._convention
        found = set()
        for r in siblings:
            value = r.get("value") if isinstance(r, dict) and r.get("from_name") == self.entity_from_name else None
            if not isinstance(value, dict):
                continue
            start, end, vt = value.get("start"), value.get("end"), value.get("text")
            if not isinstance(vt, str) or _bad_offsets(start, end):
                continue
            cp_ok, us, ue, u_ok = _readings(start, end, ti)
            fit = _fit(start, end, us, ue, cp_ok, u_ok, vt, ti)
            if fit in ("codepoints", "utf16"):
                found.add(fit)
        self._convention_of = siblings
        self._convention = found.pop() if len(found) == 1 else None
        return self._convention

    def _check_text(self, s: int, e: int, vt: str | None, ti: _TextIndex) -> tuple[int, int] | str:
        text = ti.text
        if vt and text[s:e] == vt and not vt[0].isspace() and not vt[-1].isspace() and not _guideline_edges(vt):
            return (s, e)  # value.text is the slice and has nothing to trim: what the steps below give
        if vt is None:
            self.counts.notes["no_value_text"] += 1
        else:
            m = _matches(text[s:e], vt)
            if m == 2:
                self.counts.fixes["text_whitespace_differs"] += 1
            elif m == 0:
                found = _find_all(text, vt)
                if len(found) == 1:
                    s, e = found[0]
                    self.counts.fixes["realigned"] += 1
                else:
                    near = [f for f in found if abs(f[0] - s) <= max(_NEAR, len(vt))]
                    if len(near) == 1:
                        s, e = near[0]
                        self.counts.fixes["realigned_nearby"] += 1
                    else:
                        return "text_ambiguous" if found else "text_not_found"
        sl = text[s:e]
        stripped = sl.strip()
        if not stripped:
            return "whitespace_only"
        if len(stripped) != len(sl):
            lead = len(sl) - len(sl.lstrip())
            s, e = s + lead, s + lead + len(stripped)
            self.counts.fixes["trimmed"] += 1
        if _guideline_edges(stripped):
            s, e = _trim_guideline(text, s, e, self.counts)
        return (s, e)

    # ---- adjudication -------------------------------------------------------------------------
