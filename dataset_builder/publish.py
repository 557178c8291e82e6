"""Publishing a built dataset: a folder the Hugging Face Hub accepts as a dataset repository, and its upload.

Input
    A dataset folder written by ``build`` (its ``README.md``: the YAML metadata and the card), and,
    to upload, a Hub repo id and a token.
Output
    :func:`write_hub_folder`: ``out_dir`` with ``README.md`` and the parquet files its YAML
    ``configs`` list (one per configuration and non-empty split), nothing else; the README is the
    build's, checked by :func:`dataset_builder.build.hub.validate_readme`, with the plot's image
    line replaced by a pointer to the count tables (the plot is not a data file). A
    :class:`PublishReport` names the files and the placeholders the maintainers still have to fill.
    :func:`upload_hub_folder`: ``HfApi.create_repo`` (exist_ok) and ``HfApi.upload_folder`` of that
    folder, as a dataset repository.

Invariants: the same dataset folder gives the same bytes in ``out_dir``; nothing is uploaded
unless the folder passed the checks; an unreachable Hub (no network, ``HF_HUB_OFFLINE``) or a
refusal is a :class:`~dataset_builder.errors.PublishError` naming the endpoint and the fix, and
nothing is written remotely before it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .build import PLOT_NAME
from .build.hub import PLACEHOLDER, validate_readme
from .errors import InputError, PublishError

_PLOT_LINE = f"![Label distribution per split]({PLOT_NAME})"
_PLOT_NOTE = "(The label distribution plot is in the source folder of this dataset; the counts are in the tables below.)"


@dataclass(frozen=True)
class PublishReport:
    """What :func:`write_hub_folder` wrote, and what is left for a person to write."""

    out_dir: Path
    files: tuple[str, ...]
    placeholders: int
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "files": list(self.files), "placeholders": self.placeholders, "url": self.url}


def write_hub_folder(dataset_dir: str | Path, out_dir: str | Path) -> PublishReport:
    """Write the Hub folder of ``dataset_dir`` into ``out_dir`` (see the module docstring).

    Raises
    ------
    InputError
        ``dataset_dir`` has no README.md, a parquet file its YAML lists is missing, or ``out_dir``
        holds files other than a previous publish's.
    SchemaError
        The README does not pass the Hub's checks.
    """
    src, out = Path(dataset_dir), Path(out_dir)
    readme = src / "README.md"
    if not readme.is_file():
        raise InputError(f"{src}: no README.md; pass a folder written by `dataset-builder build`.")
    text = readme.read_text(encoding="utf-8")
    data = validate_readme(text, where=str(readme))
    paths = sorted({f["path"] for c in data["configs"] for f in c["data_files"]})
    for rel in paths:
        if not (src / rel).is_file():
            raise InputError(f"{src / rel}: listed in the README's configs but missing; rebuild the dataset.")
    wanted = {"README.md", *paths}
    if out.exists():
        stray = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
                       and p.relative_to(out).as_posix() not in wanted)
        if stray:
            raise InputError(f"{out}: holds files a Hub folder must not ({', '.join(stray[:5])}); pass an empty or new "
                             "folder to --out.")
    out.mkdir(parents=True, exist_ok=True)
    for rel in paths:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, out / rel)
    (out / "README.md").write_text(text.replace(_PLOT_LINE, _PLOT_NOTE), encoding="utf-8", newline="\n")
    placeholders = text.count(PLACEHOLDER.split("{}")[0]) + text.count("{TO BE WRITTEN:")  # card text + citation
    return PublishReport(out, tuple(["README.md", *paths]), placeholders)


def upload_hub_folder(
    folder: str | Path, repo_id: str, *, token: str | None, private: bool = True, endpoint: str | None = None,
    api: Any = None,
) -> str:
    """Upload ``folder`` (from :func:`write_hub_folder`) to the Hub dataset repository ``repo_id``.

    ``api`` is an ``HfApi`` (default: ``HfApi(endpoint=endpoint, token=token)``). Returns the
    commit URL.

    Raises
    ------
    InputError
        No token, a repo id that is not ``owner/name``, or a folder that does not pass the checks.
    PublishError
        The Hub cannot be reached or refuses (names the endpoint; nothing was written remotely
        when it could not be reached).
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    folder = Path(folder)
    if not token:
        raise InputError("no Hub token; pass --token or set HF_TOKEN (a write token from huggingface.co/settings/tokens).")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise InputError(f"repo id {repo_id!r} is not 'owner/name'; pass e.g. --repo-id my-lab/news-stance.")
    validate_readme((folder / "README.md").read_text(encoding="utf-8") if (folder / "README.md").is_file() else "",
                    where=str(folder / "README.md"))
    api = api if api is not None else HfApi(endpoint=endpoint, token=token)
    where = getattr(api, "endpoint", endpoint) or "https://huggingface.co"
    try:
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private, token=token)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset", token=token,
                                 commit_message="Upload dataset from dataset-builder publish")
    except OfflineModeIsEnabled:
        raise PublishError(f"cannot upload to {where}: HF_HUB_OFFLINE is set; unset it on a machine with network, "
                           f"or publish without --repo-id to write only the folder {folder}.") from None
    except HfHubHTTPError as exc:
        raise PublishError(f"the Hub at {where} refused the upload of {repo_id!r} ({str(exc).splitlines()[0]}); check the "
                           "token's write access and the repo id.") from None
    except Exception as exc:  # httpx/requests transport errors: no network
        if not _is_transport_error(exc):
            raise
        raise PublishError(f"cannot reach the Hub at {where} ({type(exc).__name__}); nothing was uploaded. Check the "
                           f"network, or publish without --repo-id to write only the folder {folder}.") from None
    return str(getattr(info, "commit_url", info))


def _is_transport_error(exc: BaseException) -> bool:
    """A failure to reach the server (connection refused, DNS, timeout), from whichever HTTP library
    huggingface_hub uses (httpx or its vendored copy, requests)."""
    roots = {c.__module__.split(".")[0].rstrip("0123456789") for c in type(exc).__mro__}
    names = {c.__name__ for c in type(exc).__mro__}
    return isinstance(exc, OSError) or bool(roots & {"httpx", "httpcore"} and names & {"TransportError", "ConnectError"}) or (
        "requests" in roots and "ConnectionError" in names)
