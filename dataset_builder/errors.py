"""Errors raised by dataset_builder.

One base class, :class:`DatasetBuilderError`, and a few subclasses by stage. A message says
what failed, where (file, line, task), the value seen, the value expected, and how to fix it.
The library never prints or exits; ``cli.py`` turns these into one line and a non-zero exit.
"""

from __future__ import annotations


class DatasetBuilderError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(DatasetBuilderError):
    """An input file or row cannot be read (missing, empty, binary, malformed, bad encoding)."""


class SegmentParameterError(DatasetBuilderError, ValueError):
    """A parameter of the segment stage is out of range (also a :class:`ValueError`)."""


class SchemaError(DatasetBuilderError):
    """A labelling config or a record does not fit the annotation schema."""


class OffsetError(DatasetBuilderError):
    """Character offsets do not fit the text they point into."""


class LabelStudioError(DatasetBuilderError):
    """Label Studio is unreachable, rejects the credentials, or answers something unexpected."""


class ExportError(DatasetBuilderError):
    """A Label Studio export is malformed or not in the expected format."""


class PublishError(DatasetBuilderError):
    """The Hugging Face Hub is unreachable or refuses an upload."""
