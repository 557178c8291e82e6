"""Label Studio: a local server, push (segments -> tasks) and pull (raw export snapshots).

This is the only package of ``dataset_builder`` that touches the network or imports
``label_studio_sdk``; SDK objects never leave it (functions return this package's records).
Callers use the names below (``from dataset_builder import label_studio as ls``; ``ls.push_segments``).

Input
    Segments (JSONL rows of :class:`~dataset_builder.records.Segment`, optionally with ``title``,
    ``date`` and, for a config with a given target, ``target``/``target_start``/``target_end``),
    a labelling config (:mod:`dataset_builder.schema`), optional predictions (JSONL).
Output
    A Label Studio project with one task per segment (task ``data``: ``text``, ``segment_id``,
    ``article_id``, ``start``, ``end``, ``title``, ``date`` and the target fields), and raw export
    snapshots kept byte-for-byte under ``exports/<project-slug>/<UTC time>-<sha256[:12]>/``.

Invariants
    * Push is idempotent: a project never gets two tasks with the same ``segment_id`` from us.
      The server is the source of truth: before importing, push reads the ``segment_id`` of the
      tasks already there (a cached index, used only while the server's stamp of the project
      matches it), so re-running a push after a crash imports only what is missing. Concurrent
      pushes of the same segments converge to one project and one task per segment.
    * Retries with exponential back-off on connection errors and 5xx/429 answers. A batch whose
      outcome is unknown (the request may have reached the server) is re-checked against the
      server before it is sent again.
    * The API key is never printed, logged or written anywhere but the 0600 token file that
      ``serve`` creates in its data folder; it is excluded from every ``repr``.
    * Offsets: records use Python code points, and so does Label Studio 1.23.2 for text regions,
      both in what its editor stores and in how it draws regions sent through the API (seen in a
      real browser, see ``docs/label_studio_offsets.md``): regions are sent as code points, with
      ``value.text`` as the cross-check.

Modules
    :mod:`.data_dir`     what ``serve`` keeps in its data folder (state file, 0600 secret files)
    :mod:`.connection`   :class:`Connection`, :func:`resolve_connection` (env, config file, local server)
    :mod:`.server`       the local server: executable, start/reuse, stop, kill, watchdog, health
    :mod:`.database`     its database: SQLite, or PostgreSQL from a URL (password only in the data folder)
    :mod:`.postgres`     :class:`LocalPostgres`, a throwaway PostgreSQL server (tests, benchmarks)
    :mod:`.client`       the API session: SDK client, error mapping, retries (:class:`RetryPolicy`)
    :mod:`.projects`     find/create a project and check its config; plain project helpers
    :mod:`.tasks`        task ``data``, prediction ``result`` items, stable region ids (no network)
    :mod:`.index`        the segment index of a project: cheap stamp, cached listing, duplicate removal
    :mod:`.push`         :func:`push_segments`, :class:`PushReport`, batch import, conflicts, convergence
    :mod:`.predictions`  :func:`push_predictions` onto tasks already there, the stream's order (uncertainty sampling)
    :mod:`.pull`         :func:`pull_export`, :class:`PullReport`, export counting
    :mod:`.annotations`  users, :func:`submit_annotation`, :func:`submit_export_annotations`
    :mod:`.corpus`       :func:`push_corpus`, :class:`CorpusPushReport`
    :mod:`.adjudication` the Data Manager tab "Needs adjudication" (:func:`prepare_view`) and links into it
"""

from __future__ import annotations

from ..errors import LabelStudioError
from .adjudication import VIEW_TITLE, AdjudicationView, prepare_view, task_link
from .annotations import ensure_users, submit_annotation, submit_export_annotations
from .client import FIRST_CONTACT_RETRIES, RetryPolicy, check_connection
from .connection import DEFAULT_CONFIG_FILE, Connection, resolve_connection
from .corpus import CorpusPushReport, push_corpus
from .database import Database, database_from_options, parse_database_url
from .data_dir import DEFAULT_DATA_DIR, LOG_FILE, PASSWORD_FILE, STATE_FILE, TOKEN_FILE
from .projects import (
    ProjectInfo,
    delete_project,
    ensure_project,
    list_task_data,
    overlap_settings,
    project_overview,
    raw_import,
)
from .pull import USERS_FILE, PullReport, pull_export, slugify
from .predictions import UNCERTAINTY_SAMPLING, PredictionPushReport, push_predictions, remaining_tasks
from .push import PushReport, PushStopped, push_segments
from .server import (
    DEFAULT_HOST,
    DEFAULT_LS_BIN,
    DEFAULT_PORT,
    DEFAULT_USERNAME,
    LS_BIN_ENV,
    REPO_ROOT,
    ServerInfo,
    StopReport,
    asdict,
    free_port,
    health,
    kill_server,
    ls_binary,
    start_server,
    stop_server,
)
from .tasks import TARGET_MODEL_VERSION, prediction_result, task_data

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_DATA_DIR",
    "DEFAULT_HOST",
    "DEFAULT_LS_BIN",
    "DEFAULT_PORT",
    "DEFAULT_USERNAME",
    "FIRST_CONTACT_RETRIES",
    "LOG_FILE",
    "LS_BIN_ENV",
    "PASSWORD_FILE",
    "REPO_ROOT",
    "STATE_FILE",
    "TARGET_MODEL_VERSION",
    "TOKEN_FILE",
    "UNCERTAINTY_SAMPLING",
    "USERS_FILE",
    "VIEW_TITLE",
    "AdjudicationView",
    "Connection",
    "CorpusPushReport",
    "Database",
    "LabelStudioError",
    "PredictionPushReport",
    "ProjectInfo",
    "PullReport",
    "PushReport",
    "PushStopped",
    "RetryPolicy",
    "ServerInfo",
    "StopReport",
    "asdict",
    "check_connection",
    "database_from_options",
    "delete_project",
    "ensure_project",
    "ensure_users",
    "free_port",
    "health",
    "kill_server",
    "list_task_data",
    "overlap_settings",
    "parse_database_url",
    "prepare_view",
    "project_overview",
    "ls_binary",
    "prediction_result",
    "pull_export",
    "push_corpus",
    "push_predictions",
    "push_segments",
    "remaining_tasks",
    "raw_import",
    "resolve_connection",
    "slugify",
    "start_server",
    "stop_server",
    "submit_annotation",
    "submit_export_annotations",
    "task_data",
    "task_link",
]
