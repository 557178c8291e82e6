"""Build the HuggingFace dataset and its card (the ``build`` stage).

Input
    Gold :class:`~dataset_builder.records.Annotation` records, the
    :class:`~dataset_builder.records.SplitManifest` written by ``split``, the
    :class:`~dataset_builder.schema.LabelSchema` of the labelling config (label names and order,
    instructions), and optionally the ``normalise`` report (a JSON object; its ``agreement`` and
    ``rejected`` entries go into the card as they are).
Output
    A folder that ``datasets.load_dataset(folder, "ner" | "stance")`` loads offline::

        ner/{train,validation,test}.parquet      stance/{train,validation,test}.parquet
        README.md            YAML header (configs, data_files, dataset_info) + the card
        DATASET_CARD.md      the card: schema, counts, label distributions, agreement,
                             rejections, guidelines, split policy, licence, citation
        label_distribution.png                   dataset_version.txt

    and a :class:`BuildReport`.

Invariants (checked by :class:`BuildReport`): segments read = kept + held out; entity spans read
= kept (aligned + expanded) + held out + dropped (by reason); stance targets read = rows +
held out + dropped (by reason).

Modules, one concern each (the rules the card states are in their docstrings):

``tokens``
    the one tokeniser and a corpus's own tokens (:func:`tokenize`, :func:`tokenize_batch`, :func:`tokens_of`,
    :data:`TOKENISER`).
``bio``
    the BIO projection of gold character spans onto tokens (:func:`spans_to_bio`).
``features``
    the declared features of the ``ner`` and ``stance`` configurations.
``parquet``
    parquet writing with fixed settings, file hashes, the dataset fingerprint.
``report``
    :class:`BuildReport`, whose counts add up.
``plot``
    the label distribution plot.
``card``
    ``DATASET_CARD.md`` and ``README.md`` (YAML header for ``datasets``).
``dataset``
    :func:`build_dataset` (checks the inputs, builds the rows of each configuration, writes the
    folder) and :func:`load_built`; the stance-row, held-out, determinism and empty-split rules.
"""

from .bio import SPAN_STATUSES, BioProjection, bio_names, spans_to_bio
from .card import CARD_NAME, render_card
from .dataset import CONFIGS, VERSION_NAME, build_dataset, load_built
from .features import ner_features, stance_features
from .parquet import PARQUET_SETTINGS, file_sha256, parquet_fingerprint
from .plot import PLOT_NAME
from .report import BuildReport
from .tokens import TOKENISER, TokenBatch, tokenize, tokenize_batch, tokens_of

__all__ = [
    "CARD_NAME",
    "CONFIGS",
    "PARQUET_SETTINGS",
    "PLOT_NAME",
    "SPAN_STATUSES",
    "TOKENISER",
    "VERSION_NAME",
    "BioProjection",
    "BuildReport",
    "TokenBatch",
    "bio_names",
    "build_dataset",
    "file_sha256",
    "load_built",
    "ner_features",
    "parquet_fingerprint",
    "render_card",
    "spans_to_bio",
    "stance_features",
    "tokenize",
    "tokenize_batch",
    "tokens_of",
]
