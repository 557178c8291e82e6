"""Connection settings: where Label Studio is and the key to talk to it (env, config file, local server)."""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError, LabelStudioError
from .data_dir import DEFAULT_DATA_DIR, STATE_FILE, TOKEN_FILE, _read_state

DEFAULT_CONFIG_FILE = Path(".dataset-builder.toml")


@dataclass(frozen=True)
class Connection:
    """Where Label Studio is and the key to talk to it. The key never shows in ``repr``/``str``."""

    url: str
    api_key: str = field(repr=False)
    source: str = ""  # where the settings came from, for messages (never the key itself)

    def __post_init__(self) -> None:
        if not re.match(r"^https?://[^/\s]+", self.url or ""):
            raise LabelStudioError(
                f"Label Studio URL must start with http:// or https://; got {self.url!r} ({self.source}). "
                "Set LABEL_STUDIO_URL, e.g. http://127.0.0.1:8080."
            )
        object.__setattr__(self, "url", self.url.rstrip("/"))
        if not self.api_key or not self.api_key.strip():
            raise LabelStudioError(f"empty Label Studio API key ({self.source}); set LABEL_STUDIO_API_KEY.")
        object.__setattr__(self, "api_key", self.api_key.strip())

    @property
    def safe_url(self) -> str:
        """The URL without any ``user:password@`` part, fit for messages and manifests."""
        return re.sub(r"^(https?://)[^/@]*@", r"\1", self.url)


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the connection config ({exc.strerror}).") from None
    try:
        if path.suffix == ".json":
            data = json.loads(raw.decode("utf-8"))
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'} ({exc}).") from None
    section = data.get("label_studio", data) if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise InputError(f"{path}: expected a [label_studio] table with url and api_key/api_key_file.")
    unknown = sorted(set(section) - {"url", "api_key", "api_key_file", "data_dir"})
    if unknown and "label_studio" in data:
        raise InputError(
            f"{path}: unknown key(s) {', '.join(unknown)} in [label_studio]; expected url, api_key, api_key_file, data_dir."
        )
    return section


def resolve_connection(
    *,
    config_file: str | Path | None = None,
    data_dir: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Connection:
    """Find the Label Studio URL and API key.

    Each of the two is taken from the first place that has it:

    1. the environment: ``LABEL_STUDIO_URL``, ``LABEL_STUDIO_API_KEY``;
    2. the config file: ``config_file`` if given, else ``./.dataset-builder.toml`` if it exists;
       a ``[label_studio]`` table (TOML, or the same keys in JSON) with ``url`` and ``api_key`` or
       ``api_key_file`` (a path to a file holding the key), optionally ``data_dir``;
    3. the local server that ``dataset-builder serve`` started in ``data_dir`` (default
       ``./.ls-data``): its recorded URL and its token file.

    Raises
    ------
    LabelStudioError
        No URL or no key anywhere (the message lists where it looked), or an unreadable key file.
    """
    env = os.environ if env is None else env
    cfg: dict[str, Any] = {}
    cfg_name = ""
    if config_file is not None:
        cfg = _read_config_file(Path(config_file))
        cfg_name = str(config_file)
    elif DEFAULT_CONFIG_FILE.is_file():
        cfg = _read_config_file(DEFAULT_CONFIG_FILE)
        cfg_name = str(DEFAULT_CONFIG_FILE)
    ddir = Path(data_dir if data_dir is not None else cfg.get("data_dir") or DEFAULT_DATA_DIR)
    state = _read_state(ddir)

    url, url_from = None, ""
    if env.get("LABEL_STUDIO_URL"):
        url, url_from = env["LABEL_STUDIO_URL"], "LABEL_STUDIO_URL"
    elif cfg.get("url"):
        url, url_from = str(cfg["url"]), cfg_name
    elif state.get("url"):
        url, url_from = state["url"], str(ddir / STATE_FILE)

    key, key_from = None, ""
    if env.get("LABEL_STUDIO_API_KEY"):
        key, key_from = env["LABEL_STUDIO_API_KEY"], "LABEL_STUDIO_API_KEY"
    elif cfg.get("api_key"):
        key, key_from = str(cfg["api_key"]), cfg_name
    elif cfg.get("api_key_file"):
        key_path = Path(str(cfg["api_key_file"])).expanduser()
        try:
            key = key_path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise LabelStudioError(f"{cfg_name}: cannot read api_key_file {key_path} ({exc.strerror}).") from None
        key_from = str(key_path)
    elif (ddir / TOKEN_FILE).is_file():
        key = (ddir / TOKEN_FILE).read_text(encoding="utf-8").strip()
        key_from = str(ddir / TOKEN_FILE)

    looked = f"the environment, {cfg_name or DEFAULT_CONFIG_FILE}, {ddir}"
    if not url:
        raise LabelStudioError(
            f"no Label Studio URL found (looked in {looked}); set LABEL_STUDIO_URL or start a local server "
            "with `dataset-builder serve`."
        )
    if not key:
        raise LabelStudioError(
            f"no Label Studio API key found (looked in {looked}); set LABEL_STUDIO_API_KEY to the token shown "
            "under Account & Settings in Label Studio."
        )
    return Connection(url=url, api_key=key, source=f"url from {url_from}, key from {key_from}")
