"""The docs are run, not only read: README's walk-through runs as written (against the sample site), and every
command, flag, make target, file and configuration key the docs name is one refeed has."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import tomllib

import pytest
from conftest import ROOT

from crawler.config import KEYS, parse_config

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.M | re.S)
SHELL = ("sh", "bash", "console")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
COMMAND = re.compile(r"scheduler\.py((?:\s+-v)?)\s+([a-z][a-z-]*)([^|>&;\n`]*)")
WALK_THROUGH = "## Your first site"


def fences(path, languages=None) -> list[tuple[str, str]]:
    text = path.read_text(encoding="utf-8")
    return [(lang, body) for lang, body in FENCE.findall(text) if languages is None or lang in languages]


def code(path) -> list[str]:
    """What the file shows as code: its shell blocks, line by line, and every inline code span."""
    text = path.read_text(encoding="utf-8")
    lines = [line for _, body in fences(path, SHELL) for line in body.splitlines()]
    return lines + CODE_SPAN.findall(FENCE.sub("", text))


def test_docs_folder_holds_the_sections_the_readme_links():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((docs/[^)#]+)", readme))
    assert {f"docs/{p.name}" for p in DOCS[1:]} == linked
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#:]+\.md)", path.read_text(encoding="utf-8")):
            assert (path.parent / target).is_file(), f"{path.name}: link to {target}"
    assert "make demo" in readme and "make test" in readme


# -- every command, flag and make target named


def _parser():
    sys.path.insert(0, str(ROOT))
    import scheduler

    return scheduler.parser()


def _options(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def test_every_command_and_flag_in_the_docs_and_deploy_files_exists():
    main = _parser()
    commands = next(a for a in main._actions if a.dest == "command").choices
    named = 0
    deploy = [(path, path.read_text(encoding="utf-8").splitlines()) for path in sorted((ROOT / "deploy").iterdir())]
    for path, snippets in [(path, code(path)) for path in DOCS] + deploy:
        for snippet in snippets:
            for verbose, command, rest in COMMAND.findall(snippet):
                assert command in commands, f"{path.name}: `{snippet}`: no command {command!r}"
                flags = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", rest))
                unknown = flags - _options(commands[command])
                assert not unknown, f"{path.name}: `{snippet}`: {command} has no {', '.join(sorted(unknown))}"
                assert not verbose or "-v" in _options(main)
                named += 1
    assert named >= 25  # the check found what it checks


def test_every_make_target_in_the_docs_exists():
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M))
    for path in DOCS:
        for snippet in code(path):
            for target in re.findall(r"(?:^|&&\s*|;\s*)make\s+([a-z][a-z-]*)", snippet):
                assert target in targets, f"{path.name}: `{snippet}`: no make target {target!r}"


def test_every_repository_file_the_docs_name_exists():
    shown = re.compile(r"^(?:crawler|feeds|tests|bench|deploy|docs)/[\w./-]+\.\w+$")
    for path in DOCS:
        for span in CODE_SPAN.findall(path.read_text(encoding="utf-8")):
            if shown.match(span):
                assert (ROOT / span).exists(), f"{path.name}: `{span}` does not exist"


# -- configuration keys, both ways


def _keys(document: dict) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"": set(document)}
    for table, value in document.items():
        for entry in value if isinstance(value, list) else [value]:
            for key, inner in entry.items():
                found.setdefault(table, set()).add(key)
                if isinstance(inner, dict):
                    found.setdefault(f"{table}.{key}", set()).update(inner)
    return found


def test_configuration_reference_documents_exactly_the_keys_refeed_accepts(tmp_path):
    (block,) = [body for lang, body in fences(ROOT / "docs" / "configuration.md", ("toml",))]
    documented = _keys(tomllib.loads(block))
    assert documented == {table: set(keys) for table, keys in KEYS.items()}
    parse_config(tomllib.loads(block), tmp_path / "refeed.toml")  # and its values are valid


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_toml_example_is_a_valid_configuration(tmp_path, path):
    for _, block in fences(path, ("toml",)):
        document = tomllib.loads(block)
        for table, keys in _keys(document).items():
            assert keys <= set(KEYS[table]), f"{path.name}: [{table}] {keys - set(KEYS[table])}"
        parse_config(document, tmp_path / "refeed.toml")


# -- the walk-through, run as written


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def walk_through() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(WALK_THROUGH):]
    section = section[:section.index("\n## ")]
    return FENCE.findall(section)


def test_walk_through_runs_as_written(tmp_path):
    """Each shell line runs in bash in a fresh folder (the venv's python, this checkout's scheduler.py, free ports
    for 8000 and 8080); a line ending in `&` runs in the background until the test ends, and the next line waits
    for the first line it prints (its address). The toml block is the folder's refeed.toml."""
    ports = {"8000": str(_free_port()), "8080": str(_free_port())}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("REFEED_CONFIG", None)
    background: list[subprocess.Popen] = []
    outputs: list[str] = []
    blocks = walk_through()
    assert [lang for lang, _ in blocks] == ["sh", "sh", "toml", "sh", "sh"]
    try:
        for lang, body in blocks:
            body = re.sub(r"\b(8000|8080)\b", lambda m: ports[m.group(1)], body)
            if lang == "toml":
                (tmp_path / "refeed.toml").write_text(body, encoding="utf-8")
                continue
            for line in body.splitlines():
                line = line.replace(".venv/bin/python", shlex.quote(sys.executable))
                line = re.sub(r"(?<![\w/])scheduler\.py\b", shlex.quote(str(ROOT / "scheduler.py")), line)
                if line.rstrip().endswith("&"):
                    process = subprocess.Popen(["bash", "-c", "exec " + line.rstrip()[:-1]], cwd=tmp_path, env=env,
                                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                    background.append(process)
                    first = process.stdout.readline()  # both servers print their address once listening
                    assert first.startswith("http://127.0.0.1:"), (line, first, process.poll())
                    continue
                done = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=tmp_path, env=env,
                                      capture_output=True, text=True, timeout=300)
                assert done.returncode == 0, (line, done.stderr[-3000:])
                outputs.append(done.stdout)
    finally:
        for process in background:
            process.terminate()
            process.wait(timeout=30)
            process.stdout.close()
    extracted, status, head = outputs[0], outputs[2], outputs[3]
    assert "Record cold in Santiago" in extracted and extracted.count("\n") == 1
    assert "mysite" in status and " ok " in status
    assert head.startswith("HTTP/1.") and " 200" in head.splitlines()[0]
    public = tmp_path / "public"
    assert {"index.html", "all.atom", "kazakhstan.atom", "feeds.opml", "news.atom"} <= {p.name for p in public.iterdir()}
