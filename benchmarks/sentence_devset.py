"""Build ``benchmarks/data/sentence_dev.jsonl``: sentences marked by their own authors, from public text.

Run it with ``.venv/bin/python benchmarks/sentence_devset.py`` (a second or two; the output is the same
bytes every time on the same inputs). ``benchmarks/segment.py`` reports every splitter on the file.

Where the gold comes from: GNU texts follow the typewriter convention of two spaces after a
sentence end and one space elsewhere (after "e.g.", "Mr.", initials, "vs." ...); Texinfo and the
FSF's licence sources enforce it, so the authors' own spacing marks each boundary. We read:

* ``legal``: the GNU licences shipped by Debian's ``base-files`` in ``/usr/share/common-licenses``
  (GPL-2, GPL-3, LGPL-2.1, LGPL-3, GFDL-1.2, GFDL-1.3; verbatim copying is permitted);
* ``manual``: the GNU manuals shipped as Info files in ``/usr/share/info`` (coreutils, grep, gzip,
  diffutils, find, sed, tar, bash, ... whichever are installed; GFDL).

Every usable paragraph of the licences and every fourth of the manuals is kept, in file order, and
they alternate between ``"split": "dev"`` (looked at when fixing the splitter) and ``"heldout"``
(never looked at; reported apart).

A paragraph (lines between blank lines, in a Texinfo node's body) becomes one case: its lines are
joined with a space, cut into sentences at a sentence-final ``.?!`` (with closing quotes or
brackets) followed by two or more spaces, and every run of whitespace is then made one space, so a
splitter sees single spaces only. Left out: a paragraph where a line ends with a sentence-final
mark and the next line starts with a capital or a quote (the line break hides whether two spaces
were meant), indented lines (examples, tables, menus), headings and their underlines, and
paragraphs under 40 characters, and a paragraph where a capital letter and a full stop are followed
by one space (makeinfo puts one space there unless told otherwise, so the spacing tells nothing).
A source that does not keep the convention (two spaces after fewer than 95 % of the lower-case
word + full stop + capital ends: ``ed``, ``autosprintf``, ``gpgrt``, LGPL-3 here) is left out. Authors sometimes slip (one space where two were meant); the
benchmark's doc says how often, from a checked sample.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "data" / "sentence_dev.jsonl"
EVERY = {"legal": 1, "manual": 4}  # keep every n-th usable paragraph of a genre
LICENCES = ["GPL-2", "GPL-3", "LGPL-2.1", "LGPL-3", "GFDL-1.2", "GFDL-1.3"]
_END = re.compile(r"""[.?!][)"'\u2019\u201d\]]*(?= {2,}\S)""")
_LINE_END = re.compile(r"""[.?!][)"'\u2019\u201d\]]*$""")
_STARTS_SENTENCE = re.compile(r"""^[\"'\u2018\u201c(]*[A-Z]""")
_HEADING = re.compile(r"^[=*\-.]{3,}$")
# makeinfo's own rule: a period after a capital letter ("GnuPG.", "U.S.") gets one space unless the
# author wrote "@.", so one space there tells nothing.
_UNKNOWABLE = re.compile(r"""[A-Z][.?!][)"'\u2019\u201d\]]* (?! )""")
_TWO = re.compile(r"[a-z][.?!]  \S")
_ONE = re.compile(r"[a-z][.?!] [A-Z]")
MIN_CONVENTION = 0.95  # a source must put two spaces after >= 95 % of "word. Capital" ends


def paragraphs(text: str) -> list[list[str]]:
    """Blocks of consecutive non-blank lines."""
    out, block = [], []
    for line in text.splitlines() + [""]:
        if line.strip():
            block.append(line.rstrip())
        elif block:
            out.append(block)
            block = []
    return out


def case_of(lines: list[str]) -> list[str] | None:
    """The gold sentences of one paragraph, or None when it is left out (see the module docstring)."""
    if any(line[:1].isspace() for line in lines[1:]) or any(_HEADING.match(line.strip()) for line in lines):
        return None
    lines = [line.strip() for line in lines]
    if any(line.startswith(("*", "\x1f", "File:", "Tag Table", "END-INFO-DIR")) for line in lines):
        return None
    for a, b in zip(lines, lines[1:]):
        if _LINE_END.search(a) and _STARTS_SENTENCE.match(b):
            return None
    text = " ".join(lines)
    if len(text) < 40 or not re.search(r"[a-z]", text) or _UNKNOWABLE.search(text):
        return None
    cuts = [m.end() for m in _END.finditer(text)]
    sentences = [" ".join(text[a:b].split()) for a, b in zip([0] + cuts, cuts + [len(text)])]
    return [s for s in sentences if s]


def info_text(path: Path) -> str:
    """The node bodies of an Info file (the header line of each node dropped)."""
    raw = gzip.open(path, "rt", encoding="utf-8", errors="replace").read()
    nodes = raw.split("\x1f")
    return "\n\n".join("\n".join(n.splitlines()[2:]) for n in nodes if n.lstrip().startswith("File:"))


def sources() -> list[tuple[str, str, str]]:
    """(genre, source name, text) of every input found on this machine, in a fixed order."""
    found = []
    for name in LICENCES:
        path = Path("/usr/share/common-licenses") / name
        if path.is_file():
            found.append(("legal", f"common-licenses/{name}", path.read_text(encoding="utf-8")))
    for path in sorted(Path("/usr/share/info").glob("*.info*.gz")):
        found.append(("manual", f"info/{path.name}", info_text(path)))
    return found


def main() -> int:
    seen: set[str] = set()
    counts: dict[str, int] = {}
    rows = []
    for genre, source, text in sources():
        two, one = len(_TWO.findall(text)), len(_ONE.findall(text))
        if two + one == 0 or two / (two + one) < MIN_CONVENTION:
            print(f"{source}: left out, two spaces after {two} of {two + one} sentence ends")
            continue
        for k, block in enumerate(paragraphs(text)):
            sentences = case_of(block)
            if sentences is None:
                continue
            joined = " ".join(sentences)
            if joined in seen:  # the same paragraph in two licences or manuals
                continue
            seen.add(joined)
            kept = counts.get(genre, 0)
            counts[genre] = kept + 1
            if kept % EVERY[genre]:
                continue  # a fixed sample, spread over every source of the genre
            half = "dev" if (kept // EVERY[genre]) % 2 == 0 else "heldout"
            rows.append({"id": f"{source}#{k}", "genre": genre, "split": half, "source": source, "text": joined,
                         "sentences": sentences})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    by_genre: dict[str, list[int]] = {}
    for row in rows:
        by_genre.setdefault(row["genre"], [0, 0])
        by_genre[row["genre"]][0] += 1
        by_genre[row["genre"]][1] += len(row["sentences"])
    for genre, (n, s) in by_genre.items():
        print(f"{genre}: {n} paragraphs, {s} sentences")
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
