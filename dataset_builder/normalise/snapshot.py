"""Which export to read and with which config: a file, a pulled snapshot, or a project's latest snapshot.

Input
    What the user names: an export file, a snapshot folder (``pull`` writes
    ``<out>/<project>/<UTC time>-<sha256[:12]>/`` with ``export.json``, ``label_config.xml`` and
    ``manifest.json``) or a project folder (``<out>/<project>/``, meaning its latest snapshot),
    and the config asked for, if any.
Output
    :class:`Snapshot`: the export file, the manifest beside it (if any) and how it was found;
    :meth:`Snapshot.schema` gives the config to read it with.
Invariants
    A manifest decides: with one, the config defaults to the manifest's and another config is
    refused (by config hash: the bundled config the manifest names, else the snapshot's own
    ``label_config.xml``); without one a config must be given. The latest snapshot is the last
    folder name in sort order (the names begin with the UTC time of the pull).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ExportError, SchemaError
from ..schema import LabelSchema, load_schema

EXPORT_NAME = "export.json"
MANIFEST_NAME = "manifest.json"
USERS_NAME = "users.json"  # the organization's users (id, username, email) that pull writes beside the export


@dataclass(frozen=True)
class Snapshot:
    """An export file, the ``manifest.json`` beside it (None when there is none) and how it was chosen."""

    export: Path
    manifest_path: Path | None = None
    manifest: Mapping[str, Any] = field(default_factory=dict)
    latest_of: Path | None = None  # the project folder it is the latest snapshot of
    snapshots: int = 1  # snapshots in that folder

    def schema(self, config: str | Path | LabelSchema | None) -> LabelSchema:
        """The config to normalise with: ``config`` if it is the manifest's, the manifest's when ``config`` is None.

        Raises
        ------
        SchemaError
            No config and no manifest; a config other than the manifest's; an unknown config.
        """
        if self.manifest_path is None:
            if config is None:
                raise SchemaError(
                    f"{self.export}: no {MANIFEST_NAME} beside the export names its labelling config; pass --config "
                    "(the config the project was labelled with: an .xml path or a bundled name)."
                )
            return config if isinstance(config, LabelSchema) else load_schema(config)
        own = self._manifest_schema()
        if config is None:
            return own
        schema = config if isinstance(config, LabelSchema) else load_schema(config)
        if schema.config_hash != own.config_hash and schema.xml.strip() != own.xml.strip():
            name = self.manifest.get("config_name")
            fix = f"--config {name}" if name else f"--config {own.path}"
            raise SchemaError(
                f"{self.export}: {self.manifest_path.name} says the project was labelled with config "
                f"{name or own.path.name!r}, not {schema.name!r} ({schema.path}); leave --config out (the manifest's "
                f"config is the default) or pass {fix}."
            )
        return schema

    def _manifest_schema(self) -> LabelSchema:
        """The bundled config the manifest names, if it is still the one pulled (same hash), else the snapshot's own."""
        m, where = self.manifest, self.manifest_path
        name = m.get("config_name")
        if isinstance(name, str) and name:
            try:
                schema = load_schema(name)
            except SchemaError:
                schema = None
            if schema is not None and m.get("config_hash") in (None, schema.config_hash):
                return schema
        own = where.parent / str(m.get("label_config_file") or "label_config.xml")
        if not own.is_file():
            named = f"config {name!r}, whose bundled file changed since the pull," if name else "no bundled config"
            raise SchemaError(
                f"{where}: names {named} and the project's own config {own.name} is not beside it; pass --config "
                "(the config the project was labelled with)."
            )
        return load_schema(own)

    def users(self) -> list[dict[str, Any]]:
        """The users listed in ``users.json`` beside the export (``[]`` when there is none)."""
        path = self.export.parent / USERS_NAME
        if not path.is_file():
            return []
        try:
            users = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ExportError(f"{path}: not a readable users list ({type(exc).__name__}: {exc}); pull the project "
                              "again.") from None
        if not isinstance(users, list) or not all(isinstance(u, dict) and "id" in u for u in users):
            raise ExportError(f"{path}: expected a JSON list of users with an id each; pull the project again.")
        return users

    def describe(self) -> str | None:
        """A line saying which snapshot was taken, when the user named a project folder (else None)."""
        if self.latest_of is None:
            return None
        return (f"normalise: {self.latest_of} holds {self.snapshots} snapshot(s); taking the latest, "
                f"{self.export.parent.name} ({self.export})")


def find_snapshot(path: str | Path) -> Snapshot:
    """The export that ``path`` names: an export file, a snapshot folder, or a project folder (its latest snapshot).

    Raises
    ------
    ExportError
        No such file or folder; a folder with neither an ``export.json`` nor snapshot folders holding one; an
        unreadable ``manifest.json``.
    """
    path = Path(path)
    latest_of, count = None, 1
    if path.is_dir():
        if (path / EXPORT_NAME).is_file():
            export = path / EXPORT_NAME
        else:
            snaps = sorted(p for p in path.iterdir() if p.is_dir() and (p / EXPORT_NAME).is_file())
            if not snaps:
                raise ExportError(
                    f"{path}: a folder with no {EXPORT_NAME} and no snapshot folders holding one; give an export "
                    f"file, a snapshot folder (<project>/<time>-<sha>/ from 'pull') or a project folder of them."
                )
            export, latest_of, count = snaps[-1] / EXPORT_NAME, path, len(snaps)
    elif path.is_file():
        export = path
    else:
        raise ExportError(f"{path}: no such file or folder; give a Label Studio JSON export, a snapshot folder from "
                          "'pull' (<project>/<time>-<sha>/) or a project folder of them.")
    manifest_path = export.parent / MANIFEST_NAME
    if not manifest_path.is_file():
        return Snapshot(export, latest_of=latest_of, snapshots=count)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(
            f"{manifest_path}: not a readable manifest ({type(exc).__name__}: {exc}); pull the project again, or "
            f"move the export out of this folder and pass --config."
        ) from None
    if not isinstance(manifest, dict):
        raise ExportError(f"{manifest_path}: a manifest is a JSON object, got {type(manifest).__name__}; pull the "
                          "project again.")
    return Snapshot(export, manifest_path, manifest, latest_of, count)
