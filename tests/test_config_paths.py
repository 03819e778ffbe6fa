"""Safe paths: an output folder or store that cannot be written exits 2 with one line naming the key; slugs
never leave the output folder.

The unwritable paths lie under a regular file, which fails for every user (the tests may run as root,
for whom a folder without write permission is still writable).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import run_cli, write_config
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.topics import slugify

SITE = "http://127.0.0.1:9/"  # never reached: each case stops before crawling


def configured(tmp_path: Path, output: str = "public", store: str = "data/refeed.sqlite3") -> Path:
    config = write_config(tmp_path, SITE)
    text = config.read_text().replace('dir = "public"', f'dir = "{output}"').replace(
        'url = "sqlite:///data/refeed.sqlite3"', f'url = "sqlite:///{store}"'
    )
    config.write_text(text)
    (tmp_path / "blocker").write_text("a regular file\n")
    return config


def assert_one_line_naming(result, key: str, *words: str) -> None:
    assert result.code == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert lines[0].startswith("refeed: ") and f"{key}: " in lines[0], lines[0]
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("command", ["once", "build", "run"])
def test_output_dir_under_a_file_exits_2_naming_output_dir(tmp_path, command):
    configured(tmp_path, output="blocker/public")
    result = run_cli(command, cwd=tmp_path, timeout=60)
    assert_one_line_naming(result, "output.dir", "blocker/public", "is a file, not a folder")
    assert not (tmp_path / "data").exists()  # checked before the store is opened


def test_output_dir_that_is_a_file_exits_2(tmp_path):
    configured(tmp_path, output="blocker")
    assert_one_line_naming(run_cli("build", cwd=tmp_path, timeout=60), "output.dir", "is a file, not a folder")


def test_store_under_a_file_exits_2_naming_store_url(tmp_path):
    configured(tmp_path, store="blocker/refeed.sqlite3")
    result = run_cli("once", cwd=tmp_path, timeout=60)
    assert_one_line_naming(result, "store.url", "blocker/refeed.sqlite3", "is a file, not a folder")


def test_store_that_is_a_folder_exits_2(tmp_path):
    configured(tmp_path, store="data")
    (tmp_path / "data").mkdir()
    assert_one_line_naming(run_cli("build", cwd=tmp_path, timeout=60), "store.url", "is a folder, not a database file")


def test_demo_with_public_a_file_exits_2(tmp_path):
    (tmp_path / "public").write_text("not a folder\n")
    result = run_cli("demo", "--once", "--port", "9", cwd=tmp_path, timeout=60)
    assert_one_line_naming(result, "output.dir", "is a file, not a folder")


def test_demo_with_data_a_file_exits_2(tmp_path):
    (tmp_path / "data").write_text("not a folder\n")
    result = run_cli("demo", "--once", "--port", "9", cwd=tmp_path, timeout=60)
    assert_one_line_naming(result, "data", "is a file, not a folder")
    assert (tmp_path / "data").read_text() == "not a folder\n"


def test_writable_paths_pass_the_check(tmp_path):
    from crawler.config import check_paths, load_config

    configured(tmp_path, output="deep/new/public", store="more/new/refeed.sqlite3")
    check_paths(load_config(str(tmp_path / "refeed.toml")))  # raises ConfigError otherwise
    assert not (tmp_path / "deep").exists()  # checking creates nothing


@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(name=st.text(max_size=40) | st.lists(st.sampled_from(["..", ".", "/", "\\", "\x00", "~", "%2e%2e", "all", "a"]), max_size=8).map("".join))
def test_a_slug_is_never_a_path(name):
    slug = slugify(name)
    assert slug == "" or (os.path.basename(slug) == slug and slug not in (".", "..") and not slug.startswith(("-", ".")))
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in slug) and len(slug) <= 100
