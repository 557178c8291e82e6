"""A reader's running account: the records it keeps, the units it rejects, the labels it counts.

Input
    While a reader runs: each unit read (sentence, target, tweet), each problem found in one
    (:class:`_Bad`, at one line), each kept segment with its annotation, and each label read,
    dropped or kept.
Output
    The :class:`~dataset_builder.corpora.corpus.Corpus` with its
    :class:`~dataset_builder.corpora.corpus.CorpusReport` (:meth:`_Ledger.corpus`).
Invariants
    With ``on_error="raise"`` a problem raises :class:`~dataset_builder.errors.InputError` (a label
    the config does not have: :class:`~dataset_builder.errors.SchemaError`) naming ``file:line``;
    with ``on_error="skip"`` the unit holding it is rejected instead, listed with the same message,
    and its labels are counted as dropped, so read = kept + rejected for units and for labels.
    A file in which no unit is found at all (a CoNLL file of ``-DOCSTART-`` lines only, a SemEval
    file with only its header) raises :class:`~dataset_builder.errors.InputError` naming the file:
    an import of nothing is a mistake, not a success.
"""

from __future__ import annotations

from collections import Counter

from ..errors import DatasetBuilderError, InputError, SchemaError
from ..records import Annotation, Article, Rejection, Segment
from ..schema import LabelSchema
from .corpus import Corpus, CorpusReport
from .labels import _Labels

STAGE = "import-corpus"

_UNIT_LOOKS_LIKE = {
    "conll": "lines of 'token ... entity tag' (sentences separated by blank lines, documents by -DOCSTART-)",
    "newsmtsc": "JSON lines with sentence_normalized and targets",
    "semeval2016": "tweet lines ID<TAB>Target<TAB>Tweet<TAB>Stance after the header",
    "fnc1": "rows Headline,Body ID,Stance after the header",
    "pairs": "rows with a text, a target and a label",
}


class _Bad(Exception):
    """One problem at one line; raised to the caller or turned into a rejection (``on_error``)."""

    def __init__(self, reason: str, line: int, message: str, *, schema_error: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.line = line
        self.message = message
        self.schema_error = schema_error

    def error(self, path: str) -> DatasetBuilderError:
        cls = SchemaError if self.schema_error else InputError
        return cls(f"{path}:{self.line}: {self.message}")


class _Ledger:
    """Collects records, rejections and counts while a reader runs; raises or skips per ``on_error``."""

    def __init__(self, path: str, on_error: str) -> None:
        self.path = path
        self.on_error = on_error
        self.read = 0
        self.articles: list[Article] = []
        self.segments: list[Segment] = []
        self.annotations: list[Annotation] = []
        self.rejections: list[Rejection] = []
        self.labels_read = 0
        self.labels_dropped: Counter[str] = Counter()
        self.label_counts: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()

    def fail(self, bad: _Bad, *, labels_in_unit: int = 0) -> None:
        if self.on_error == "raise":
            raise bad.error(self.path) from None
        self._reject(bad.line, bad.reason, bad.message)
        if labels_in_unit:
            self.labels_read += labels_in_unit
            self.labels_dropped[f"in_rejected_unit:{bad.reason}"] += labels_in_unit

    def drop_unit(self, line: int, detail: str) -> None:
        """A unit whose one label the label map drops: rejected (never raised), its label dropped."""
        self.labels_dropped["dropped_by_label_map"] += 1
        self._reject(line, "dropped_by_label_map", detail)

    def _reject(self, line: int, reason: str, detail: str) -> None:
        self.rejections.append(Rejection(STAGE, f"{self.path}:{line}", reason, detail))

    def keep(self, segment: Segment, annotation: Annotation) -> None:
        """A kept segment and its annotation; its labels are counted by config label."""
        self.segments.append(segment)
        self.annotations.append(annotation)
        for label in (*annotation.entities, *annotation.stances):
            self.label_counts[label.label] += 1

    def corpus(self, fmt: str, schema: LabelSchema, annotator: str, encoding: str, labels: _Labels, *,
               unit: str, scheme: str | None = None) -> Corpus:
        """The corpus of what was kept, with the report of everything counted.

        Raises :class:`~dataset_builder.errors.InputError` when no unit was read at all.
        """
        if self.read == 0:
            raise InputError(
                f"{self.path}: no {unit} found; expected {_UNIT_LOOKS_LIKE.get(fmt, f'the {fmt} format')}. "
                "Check that it is the right file and format."
            )
        report = CorpusReport(
            format=fmt, source=self.path, config=schema.name, annotator=annotator, unit=unit, encoding=encoding,
            scheme=scheme, read=self.read, kept=len(self.segments), rejections=tuple(self.rejections),
            articles=len(self.articles), segments=len(self.segments), labels_read=self.labels_read,
            labels_kept=sum(self.label_counts.values()), labels_dropped=self.labels_dropped,
            label_counts=self.label_counts, notes=self.notes, label_map=labels.shown(),
        )
        return Corpus(fmt, self.path, schema, annotator, tuple(self.articles), tuple(self.segments),
                      tuple(self.annotations), report)
