"""Tests of dataset_builder.publish: the Hub folder (loads offline, passes the card checks, nothing
else in it) and the upload, exercised up to the network (a refusing endpoint on 127.0.0.1, a recorder)."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner
from datasets import load_dataset

from dataset_builder.build.hub import validate_readme
from dataset_builder.cli import cli
from dataset_builder.errors import InputError, PublishError
from dataset_builder.publish import upload_hub_folder, write_hub_folder
from test_build_hub import hub_built  # noqa: F401  (fixture)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def hub_folder(hub_built, tmp_path):  # noqa: F811
    report = write_hub_folder(hub_built["out"], tmp_path / "hub")
    return tmp_path / "hub", report


def test_hub_folder_holds_readme_and_parquet_only_and_loads_offline(hub_folder, hub_built):  # noqa: F811
    folder, report = hub_folder
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == sorted(report.files) and "README.md" in files
    assert all(f == "README.md" or f.endswith(".parquet") for f in files)
    assert "DATASET_CARD.md" not in files and "label_distribution.png" not in files and "dataset_version.txt" not in files
    text = (folder / "README.md").read_text(encoding="utf-8")
    validate_readme(text)
    assert "](label_distribution.png)" not in text
    for config in ("ner", "stance", "annotations"):
        ds = load_dataset(str(folder), config)
        assert set(ds) <= {"train", "validation", "test"} and sum(len(d) for d in ds.values()) > 0
    assert report.placeholders >= 5
    again = write_hub_folder(hub_built["out"], folder)  # a second publish into the same folder is fine
    assert again.files == report.files


def test_hub_folder_refuses_a_folder_with_other_files(hub_built, tmp_path):  # noqa: F811
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"hub: holds files a Hub folder must not \(notes.txt\); pass an empty or new folder"):
        write_hub_folder(hub_built["out"], tmp_path / "hub")
    with pytest.raises(InputError, match=r"no README.md; pass a folder written by `dataset-builder build`"):
        write_hub_folder(tmp_path / "hub", tmp_path / "other")


def test_upload_without_network_fails_clearly_and_writes_nothing(hub_folder):
    folder, _ = hub_folder
    from huggingface_hub import HfApi

    endpoint = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(PublishError, match=rf"cannot reach the Hub at {endpoint} \(\w+\); nothing was uploaded"):
        upload_hub_folder(folder, "lab/news", token="hf_test", api=HfApi(endpoint=endpoint, token="hf_test"))


class _Recorder:
    """Stands in for HfApi: records the calls that would go to the network."""

    endpoint = "http://recorder"

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw["repo_id"], kw))
        return type("Info", (), {"commit_url": "http://recorder/commit/1"})()


def test_upload_calls_create_repo_then_upload_folder_as_a_dataset(hub_folder):
    folder, _ = hub_folder
    api = _Recorder()
    assert upload_hub_folder(folder, "lab/news", token="hf_test", api=api) == "http://recorder/commit/1"
    (c1, repo1, kw1), (c2, repo2, kw2) = api.calls
    assert (c1, repo1, kw1["repo_type"], kw1["exist_ok"], kw1["private"]) == ("create_repo", "lab/news", "dataset", True, True)
    assert (c2, repo2, kw2["repo_type"], kw2["folder_path"]) == ("upload_folder", "lab/news", "dataset", str(folder))


def test_upload_refuses_without_token_or_with_a_bad_repo_id(hub_folder):
    folder, _ = hub_folder
    with pytest.raises(InputError, match=r"no Hub token; pass --token or set HF_TOKEN"):
        upload_hub_folder(folder, "lab/news", token=None, api=_Recorder())
    with pytest.raises(InputError, match=r"repo id 'news' is not 'owner/name'"):
        upload_hub_folder(folder, "news", token="t", api=_Recorder())


def test_publish_cli(hub_built, tmp_path, monkeypatch):  # noqa: F811
    from huggingface_hub import constants

    result = CliRunner().invoke(cli, ["publish", str(hub_built["out"]), "-o", str(tmp_path / "hub")])
    assert result.exit_code == 0, result.output
    assert "hub folder: " in result.output and "placeholders to fill:" in result.output
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    result = CliRunner().invoke(cli, ["publish", str(hub_built["out"]), "-o", str(tmp_path / "hub2"), "--repo-id", "lab/news",
                                      "--token", "hf_test"])
    assert result.exit_code == 1
    assert f"error: cannot reach the Hub at {endpoint}" in result.output and "Traceback" not in result.output
