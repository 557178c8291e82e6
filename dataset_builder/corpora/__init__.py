"""Readers of existing annotated corpora: CoNLL column files, NewsMTSC JSONL, SemEval-2016 Task 6 TSV.

Input
    One corpus file and the labelling config (:class:`~dataset_builder.schema.LabelSchema`) its
    labels are to be expressed in.
Output
    A :class:`Corpus`: :class:`~dataset_builder.records.Article` and
    :class:`~dataset_builder.records.Segment` records (what ingest and segment would have made),
    one :class:`~dataset_builder.records.Annotation` per segment holding the corpus's labels
    (attributed to a named source annotator, e.g. ``conll2003-gold``), and a
    :class:`CorpusReport` in which, for the corpus's units and for its labels,
    read = kept + rejected, each rejection with its file:line and reason.
Invariants
    Offsets are half-open ``[start, end)`` Python code points; ``article.text[s.start:s.end] ==
    s.text`` for every segment and every span's text is ``segment.text[start:end]`` (the records
    check it). The same file and options give the same records in the same order.

Formats (what each reader assumes is in its module's docstring; the tests pin every rule)
------------------------------------------------------------------------------------------
``conll`` - CoNLL-2003 column format, IOB1 or IOB2 (:mod:`.conll`); ``newsmtsc`` - NewsMTSC
target-stance JSONL (:mod:`.newsmtsc`); ``semeval2016`` - SemEval-2016 Task 6 TSV (:mod:`.semeval`);
``fnc1`` - FNC-1's stances and bodies CSVs, ``pairs`` - any CSV/TSV/JSONL of (text, given target,
label) rows with column options (:mod:`.pairs`).

Errors: a malformed file raises :class:`~dataset_builder.errors.InputError` (a label the config
does not have: :class:`~dataset_builder.errors.SchemaError`) naming ``file:line``, the value seen,
the value expected and the fix. With ``on_error="skip"`` the unit holding the problem (sentence,
target, tweet) is rejected instead and listed in the report with the same message; problems of
the whole file (undecidable tagging scheme, unreadable bytes, missing header) always raise.

Official splits: ``read_corpus(..., split="train")`` (``import-corpus --split``) pins every article
of the file to that split (``Article.meta["split"]``, in ``articles.jsonl``); the ``split`` stage
then keeps it there (see :mod:`dataset_builder.splits`), so a corpus imported file by file
(CoNLL-2003 ``eng.train``/``eng.testa``/``eng.testb``) keeps its published train/validation/test.

Modules
-------
read      :func:`read_corpus`, the format dispatch (:data:`READERS`), with the official split pin.
conll     :func:`read_conll`: CoNLL column files (documents, IOB1/IOB2 scheme, entity chunks).
newsmtsc  :func:`read_newsmtsc`: NewsMTSC target-stance JSONL (one segment per target).
semeval   :func:`read_semeval2016`: SemEval-2016 Task 6 TSV (the tweet; the target given outside it).
pairs     :func:`read_fnc1`, :func:`read_pairs`: a text and a given target (headline, claim, topic) per row.
stance    What the two stance readers share: the given-target config check and the stance label map.
corpus    :class:`Corpus` and :class:`CorpusReport`; :func:`pin_split`; :func:`write_corpus`.
ledger    A reader's running account (kept records, rejections per ``on_error``, label counts).
labels    :func:`parse_label_map` and the label map a reader applies.
options   The formats, each format's defaults, option checks, and ids from file names.
text      Reading, decoding (:func:`decode`) and splitting a file; :func:`clean_with_offsets`.
"""

from .conll import read_conll
from .corpus import OUTPUT_FILES, Corpus, CorpusReport, pin_split, write_corpus
from .labels import parse_label_map
from .ledger import STAGE
from .newsmtsc import read_newsmtsc
from .options import (
    DEFAULT_ANNOTATORS,
    DEFAULT_CONFIGS,
    DEFAULT_LABEL_MAPS,
    FORMATS,
    GENERIC_SUFFIXES,
    ON_ERROR,
    SCHEMES,
    default_id_prefix,
    file_stem,
    slug,
)
from .read import READERS, read_corpus
from .pairs import parse_columns, read_fnc1, read_pairs
from .semeval import SEMEVAL_COLUMNS, read_semeval2016
from .text import clean_with_offsets, decode

__all__ = [
    "DEFAULT_ANNOTATORS", "DEFAULT_CONFIGS", "DEFAULT_LABEL_MAPS", "FORMATS", "GENERIC_SUFFIXES", "ON_ERROR",
    "OUTPUT_FILES", "READERS", "SCHEMES", "SEMEVAL_COLUMNS", "STAGE",
    "Corpus", "CorpusReport",
    "clean_with_offsets", "decode", "default_id_prefix", "file_stem", "parse_label_map", "pin_split",
    "read_conll", "read_corpus", "read_newsmtsc", "read_semeval2016", "slug", "write_corpus",
    "read_fnc1", "read_pairs", "parse_columns",
]
