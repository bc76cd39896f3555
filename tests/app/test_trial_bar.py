"""`search` and `kfold` draw one bar over the trials (the folds) on a terminal, below their
per-trial lines, which stay whole (issue 22); `-q` and a pipe draw none."""

from __future__ import annotations

import os
import re
import sys

import pytest
from support import terminal

from tinygrad_mnist.app.cli import main

pytestmark = pytest.mark.slow  # each runs the command in a child on a pseudo-terminal

GRID = """
name = "tiny grid"
dataset = "synthetic"
k = 2
top_n = 1

[grid]
hidden_sizes = [[8], [16]]
activation = ["tanh", "relu"]
learning_rate = [0.1, 0.5]

[config]
batch_size = 100
epochs = 1
"""
TRIAL = re.compile(r"(k-fold )?trial \d+/\d+ \[\d+\] \w+ lr [\d.]+( fold \d)?: validation "
                   r"\d+\.\d\d% \(\d+\.\d s\)(, about \d+ s left)?")
FOLD = re.compile(r"fold \d/3 \[16\] relu lr 0\.1: validation \d+\.\d\d% \(\d+\.\d s\)"
                  r"(, about \d+ s left)?")


def on_terminal(argv, cwd) -> str:
    """What `tinygrad-mnist ARGV` writes to a pseudo-terminal of 24 rows and 80 columns (a
    bare one has no size); it must succeed."""
    environment = {**os.environ, "TINYGRAD_MNIST_HOME": str(cwd / "cache"), "MPLBACKEND": "Agg",
                   "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    environment.pop("COLUMNS", None)
    output, status = terminal.on_terminal([sys.executable, "-m", "tinygrad_mnist", *argv],
                                          environment, cwd=cwd, size=(24, 80))
    assert status == 0, output
    return output


def screen(text: str) -> list[str]:
    """The lines a terminal shows after `text`: carriage returns, new lines and tqdm's
    cursor-up move played as a terminal plays them."""
    lines, row, column, i = [""], 0, 0, 0
    while i < len(text):
        escape = re.match(r"\x1b\[(\d*)([A-Za-z])", text[i:])
        if escape:
            if escape.group(2) == "A":
                row = max(0, row - int(escape.group(1) or 1))
            i += len(escape.group(0))
            continue
        character, i = text[i], i + 1
        if character == "\r":
            column = 0
        elif character == "\n":
            row += 1
            lines += [""] * (row + 1 - len(lines))
        else:
            line = lines[row].ljust(column)
            lines[row] = line[:column] + character + line[column + 1:]
            column += 1
    return [line.rstrip() for line in lines]


def test_search_draws_one_bar_over_its_trials_below_whole_trial_lines(tmp_path, capsys):
    (tmp_path / "grid.toml").write_text(GRID)
    output = on_terminal(["search", "grid.toml", "--out", "out", "--jobs", "1"], tmp_path)
    # Between two trial lines the bar is drawn again, counting all ten trials of the
    # search (eight configurations, then two folds of the best).
    between = output[output.index("trial 3/8"):output.index("trial 4/8")]
    assert re.search(r"search: +\d+%\|.*\| \d+/10 trials \[", between), between
    shown = screen(output)
    trials = [line for line in shown if "trial " in line]
    assert len(trials) == 10 and all(TRIAL.fullmatch(line) for line in trials), trials
    assert not any("trials [" in line for line in shown)  # the bar is gone at the end
    assert any(line.startswith("best: hidden ") for line in shown)

    quiet = on_terminal(["-q", "search", "grid.toml", "--out", "again", "--jobs", "1"],
                        tmp_path)
    assert "trials [" not in quiet and "trial 1/" not in quiet  # -q: no bar, no lines
    assert "best: hidden " in quiet
    # Not a terminal (here, pytest's captured stderr): the lines, no bar.
    assert main(["search", str(tmp_path / "grid.toml"), "--out", str(tmp_path / "piped"),
                 "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "trial 8/8 " in err and "trials [" not in err


def test_kfold_draws_one_bar_over_its_folds_above_each_folds_epochs(tmp_path):
    argv = ["kfold", "--dataset", "synthetic", "--hidden", "16", "--k", "3", "--epochs", "2"]
    output = on_terminal(argv, tmp_path)
    between = output[output.index("fold 1/3 [16]"):output.index("fold 2/3 [16]")]
    assert re.search(r"3-fold: +\d+%\|.*\| \d/3 folds \[", between), between
    shown = screen(output)
    folds = [line for line in shown if re.match(r"fold \d/3 \[", line)]
    assert len(folds) == 3 and all(FOLD.fullmatch(line) for line in folds), folds
    assert len([line for line in shown if re.match(r"fold \d/3 epoch \d/2: ", line)]) == 6
    assert not any("folds [" in line for line in shown)
    assert any(line.startswith("mean validation accuracy") for line in shown)

    quiet = on_terminal(["-q", *argv], tmp_path)
    assert "folds [" not in quiet and "fold 1/3" not in quiet and "epoch 1/2" not in quiet
    assert "mean validation accuracy" in quiet
