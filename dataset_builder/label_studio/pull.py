"""Pull: a project's annotations as a raw export snapshot, kept byte-for-byte, with a manifest.

Snapshots go to ``<out_dir>/<project-slug>/<UTC time>-<sha256[:12]>/`` (``export.json``,
``label_config.xml``, ``users.json``, ``manifest.json``). ``users.json`` lists the organization's
users (``id``, ``username``, ``email``, by id), so that normalise can name annotators by handle.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import ExportError, LabelStudioError, SchemaError
from ..schema import list_configs, load_schema
from .client import RetryPolicy, _give_up, _Session, _session, _Transient
from .connection import Connection
from .projects import _project_by_title


@dataclass(frozen=True)
class PullReport:
    """Where a raw export snapshot was saved and what it holds (the manifest's content)."""

    export_path: Path
    manifest_path: Path
    label_config_path: Path
    manifest: Mapping[str, Any]

    @property
    def task_count(self) -> int:
        return int(self.manifest["task_count"])

    @property
    def annotation_count(self) -> int:
        """Every annotation, cancelled ones included (see :attr:`submitted_count`, :attr:`cancelled_count`)."""
        return int(self.manifest["annotation_count"])

    @property
    def submitted_count(self) -> int:
        return int(self.manifest["submitted_annotation_count"])

    @property
    def cancelled_count(self) -> int:
        return int(self.manifest["cancelled_annotation_count"])


def slugify(title: str) -> str:
    """``"News NER (v2)" -> "news-ner-v2"``; never empty."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug or "project"


def _count_export(path: Path) -> dict[str, int]:
    """Count tasks, annotations and predictions of an export, streaming (ijson): memory stays flat.

    ``annotation_count`` counts every annotation, cancelled (skipped) ones included:
    ``annotation_count == submitted_annotation_count + cancelled_annotation_count``.
    """
    import ijson

    counts = {"task_count": 0, "annotation_count": 0, "submitted_annotation_count": 0,
              "cancelled_annotation_count": 0, "prediction_count": 0, "tasks_with_annotations": 0}
    try:
        with path.open("rb") as fh:
            head = fh.read(64).lstrip()
            if not head.startswith(b"["):
                raise ExportError(f"{path}: expected a JSON list of tasks, the export starts with {head[:20]!r}.")
            fh.seek(0)
            for task in ijson.items(fh, "item"):
                if not isinstance(task, dict):
                    raise ExportError(f"{path}: task {counts['task_count']} is a {type(task).__name__}, not an object.")
                annotations = task.get("annotations") or []
                counts["task_count"] += 1
                counts["annotation_count"] += len(annotations)
                cancelled = sum(1 for a in annotations if isinstance(a, dict) and a.get("was_cancelled"))
                counts["cancelled_annotation_count"] += cancelled
                counts["submitted_annotation_count"] += len(annotations) - cancelled
                counts["prediction_count"] += len(task.get("predictions") or [])
                counts["tasks_with_annotations"] += bool(annotations)
    except ijson.JSONError as exc:
        raise ExportError(f"{path}: the downloaded export is not a valid JSON list of tasks ({exc}); pull again.") from None
    return counts



def pull_export(
    conn: Connection,
    project_title: str,
    *,
    out_dir: str | Path = "exports",
    retry: RetryPolicy | None = None,
    export_timeout: float = 3600.0,
    chunk_size: int = 1 << 20,
    now: Callable[[], datetime] | None = None,
) -> PullReport:
    """Snapshot a project's annotations and keep the raw JSON byte-for-byte.

    Creates an export snapshot on the server, waits until it is complete, streams it to a
    temporary file (no read timeout: a large export is never cut by the client), then moves it to
    ``<out_dir>/<project-slug>/<UTC time>-<sha256[:12]>/export.json`` next to ``label_config.xml``
    (the project's config as the server holds it), ``users.json`` (the organization's users: id,
    username, e-mail, sorted by id) and ``manifest.json`` (project id and title,
    bundled config name and hash when the project's config is one of them, task/annotation counts,
    time, sha256 and size of the export).

    Raises
    ------
    LabelStudioError
        Unknown or ambiguous title, the export failed or did not finish within ``export_timeout``,
        server unreachable, wrong key.
    ExportError
        The downloaded file is not a JSON list of tasks.
    """
    now = now or (lambda: datetime.now(timezone.utc))
    with _session(conn, retry=retry) as s:
        project = _project_by_title(s, project_title)
        label_config = project.label_config or ""
        users = list_users(s)
        taken = now()
        stamp = taken.strftime("%Y%m%dT%H%M%SZ")
        snap = _completed_export(s, project.id, stamp, export_timeout)
        base = Path(out_dir) / slugify(project.title)
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / f".partial-{stamp}-{os.getpid()}.json"
        sha, size = _download_export(s, project.id, snap.id, tmp, chunk_size)

    counts = _count_export(tmp)
    final_dir = base / f"{stamp}-{sha[:12]}"
    final_dir.mkdir(parents=True, exist_ok=True)
    export_path = final_dir / "export.json"
    os.replace(tmp, export_path)

    # The server keeps the config text without its final newline: match bundled configs on the
    # stripped text, and keep the server's own text next to the export for offline normalisation.
    config_path = final_dir / "label_config.xml"
    config_path.write_bytes(label_config.encode("utf-8"))
    users_path = final_dir / USERS_FILE
    users_path.write_text(json.dumps(users, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    bundled, bundled_hash = _bundled_config(label_config)
    manifest = {
        "format": "label-studio-json",
        "project_id": project.id,
        "project_title": project.title,
        "config_name": bundled,
        "config_hash": bundled_hash,
        "label_config_file": config_path.name,
        "label_config_sha256": hashlib.sha256(label_config.encode("utf-8")).hexdigest(),
        "users": users_path.name,
        "export_id": snap.id,
        "created_at": taken.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        **counts,
        "bytes": size,
        "sha256": sha,
        "label_studio_url": conn.safe_url,
    }
    manifest_path = final_dir / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return PullReport(export_path=export_path, manifest_path=manifest_path, label_config_path=config_path,
                      manifest=manifest)


USERS_FILE = "users.json"
"""The snapshot's list of the organization's users, beside ``export.json``."""


def list_users(s: _Session) -> list[dict[str, Any]]:
    """Every user of the organization as ``{"id", "username", "email"}``, sorted by id."""
    users = s.call("list users", s.client.users.list)
    return sorted(({"id": int(u.id), "username": str(getattr(u, "username", "") or ""),
                    "email": str(getattr(u, "email", "") or "")} for u in users), key=lambda u: u["id"])


def _completed_export(s: _Session, project_id: int, stamp: str, export_timeout: float) -> Any:
    """Create an export snapshot of the project on the server and wait until it is complete.

    Raises
    ------
    LabelStudioError
        The export failed, or is not complete after ``export_timeout`` seconds.
    """
    # Full prediction and draft bodies (the server's default is their ids only).
    snap = s.call("create export", s.client.projects.exports.create, id=project_id,
                  title=f"dataset-builder pull {stamp}",
                  serialization_options={"predictions": {"only_id": False}, "drafts": {"only_id": False}})
    deadline = time.monotonic() + export_timeout
    status = getattr(snap, "status", None)
    while status != "completed":
        if status == "failed":
            raise LabelStudioError(f"Label Studio export {snap.id} of project {project_id} failed; try pull again.")
        if time.monotonic() > deadline:
            raise LabelStudioError(
                f"Label Studio export {snap.id} of project {project_id} still {status!r} after {export_timeout:.0f} s."
            )
        s.sleep(1.0)
        snap = s.call("check export", s.client.projects.exports.get, id=project_id, export_pk=snap.id)
        status = getattr(snap, "status", None)
    return snap


def _download_export(s: _Session, project_id: int, export_id: int, tmp: Path, chunk_size: int) -> tuple[str, int]:
    """Stream the export's JSON into ``tmp``; returns ``(sha256 hex, bytes)``.

    A transient failure deletes the partial file and starts the download again, with back-off.
    """
    attempt = 0
    while True:
        digest = hashlib.sha256()
        size = 0
        try:
            dl = s.download_client()
            with tmp.open("wb") as fh:
                for chunk in dl.projects.exports.download(
                    id=project_id, export_pk=export_id, export_type="JSON",
                    request_options={"max_retries": 0, "chunk_size": chunk_size},
                ):
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            return digest.hexdigest(), size
        except Exception as exc:  # noqa: BLE001
            tmp.unlink(missing_ok=True)
            mapped = s.classify(exc, "download export")
            if not isinstance(mapped, _Transient):
                if mapped is exc:
                    raise
                raise mapped from None
            if attempt >= s.retry.retries:
                raise _give_up(mapped, attempt) from None
            s.sleep(s.retry.delay(attempt))
            attempt += 1


def _bundled_config(label_config: str) -> tuple[str | None, str | None]:
    """``(name, config hash)`` of the bundled config whose XML is ``label_config`` (stripped), else Nones."""
    for name in list_configs():
        try:
            candidate = load_schema(name)
        except SchemaError:
            continue
        if candidate.xml.strip() == label_config.strip():
            return name, candidate.config_hash
    return None, None
