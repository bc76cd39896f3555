"""Every command in the docs' bash blocks resolves: its command name, its options, the
repository files and shipped experiments it names, the run folders the CLI would make.

A command pasted from the README or docs/ must not die on a stale path
(`examples/seed_grid.toml`) or a renamed option. Values are not checked (an example may
show a deliberate mistake and its error), names are.
"""

import argparse
import re
import shlex
from pathlib import Path

import pytest
import tomllib

from tinygrad_mnist.app.cli import build_parser
from tinygrad_mnist.data.by_name import DATASET_NAMES
from tinygrad_mnist.experiments import shipped_experiments

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REPOSITORY_FOLDERS = ("examples/", "docs/", "tinygrad_mnist/", "benchmarks/", "tests/")
EXTRAS = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
             ["optional-dependencies"])


def doc_commands():
    """(page, command line) for every command of every bash block, continuations joined."""
    for page in PAGES:
        for block in re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", page.read_text(), re.S):
            lines = [line.strip() for line in block.replace("\\\n", " ").splitlines()]
            if any(line.startswith("$ ") for line in lines):  # a session: the rest is output
                lines = [line[2:] for line in lines if line.startswith("$ ")]
            for line in lines:
                lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                words = []
                for token in [*lexer, "&&"]:
                    if token not in ("&&", "||", ";", "|", "&"):
                        words.append(token)
                        continue
                    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                        words = words[1:]  # VARIABLE=value before the program
                    if words:
                        yield page.relative_to(ROOT), words
                    words = []


COMMANDS = list(doc_commands())


def subcommands(parser) -> dict:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def check_repository_path(word: str) -> None:
    if word.startswith(REPOSITORY_FOLDERS):
        assert (ROOT / word).exists(), f"{word}: no such file in the repository"
    made = re.search(r"runs/([\w.-]+?)-(" + "|".join(map(re.escape, DATASET_NAMES)) + r")\b",
                     word)
    if made and not re.fullmatch(r"\d{8}", made.group(1)):
        # runs/<experiment>-<data set> is the folder `search <experiment>` writes.
        assert made.group(1) in shipped_experiments(), \
            f"{word}: search writes runs/<experiment>-<data set>, and " \
            f"{made.group(1)!r} is no shipped experiment ({shipped_experiments()})"


def check_cli(words: list[str]) -> None:
    parser = build_parser()
    commands = subcommands(parser)
    options = set(parser._option_string_actions)
    rest = words[1:]
    while rest and rest[0].startswith("-"):
        assert rest[0].split("=")[0] in options, f"{rest[0]}: no such global option"
        rest = rest[1:]
    if not rest or rest[0] in ("-h", "--help"):
        return
    name, arguments = rest[0], rest[1:]
    assert name in commands, f"{name}: no such command (there are {sorted(commands)})"
    options |= set(commands[name]._option_string_actions)
    for word in arguments:
        if word.startswith("--"):
            assert word.split("=")[0] in options, f"{name} {word}: no such option"
        check_repository_path(word)
    if name == "search" and arguments and not arguments[0].startswith("-"):
        config = arguments[0]
        if "/" not in config and not config.endswith(".toml"):
            assert config in shipped_experiments(), f"search {config}: no such experiment"


@pytest.mark.parametrize("page, words", COMMANDS,
                         ids=[f"{page}:{' '.join(words)[:50]}" for page, words in COMMANDS])
def test_a_doc_command_resolves(page, words):
    program = Path(words[0]).name
    if program == "tinygrad-mnist":
        check_cli(words)
    elif program.startswith("python"):
        arguments = words[1:]
        if arguments[:1] == ["-m"]:
            assert arguments[1] in ("pytest", "venv", "pip", "tinygrad_mnist"), arguments[1]
        elif arguments and not arguments[0].startswith("-"):
            assert (ROOT / arguments[0]).is_file(), f"{arguments[0]}: no such script"
    elif program == "pip":
        for word in words:
            extras = re.fullmatch(r"\.\[([\w,-]+)\]", word)
            if extras:
                assert set(extras.group(1).split(",")) <= EXTRAS, word
    for word in words[1:]:
        check_repository_path(word)


def test_the_docs_have_commands_to_check():
    names = {words[1] for _, words in COMMANDS
             if Path(words[0]).name == "tinygrad-mnist" and len(words) > 1}
    assert {"train", "predict", "search", "report", "show", "fetch"} <= names
