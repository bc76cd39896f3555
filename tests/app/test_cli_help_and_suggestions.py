"""A bare command prints the help; a mistyped command or option suggests the closest."""

import subprocess
import sys

import pytest

from tinygrad_mnist.app.cli import main


def test_bare_command_prints_the_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tinygrad-mnist") and "train" in out


@pytest.mark.parametrize("argv, suggestion", [
    (["trian"], "did you mean 'train'?"),
    (["compar", "a", "b"], "did you mean 'compare'?"),
    (["train", "--hiden", "10"], "did you mean '--hidden'?"),
    (["predict", "run", "x.png", "--josn"], "did you mean '--json'?"),
])
def test_a_mistyped_name_suggests_the_closest(argv, suggestion, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and suggestion in err


def test_nothing_close_suggests_nothing(capsys):
    assert main(["xyzzy"]) == 2
    assert "did you mean" not in capsys.readouterr().err


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(tmp_path):
    # `tinygrad-mnist --help | head -1`: the reader goes away; no "Broken pipe" error.
    script = ("import sys\n"
              "import tinygrad_mnist.app.commands.fetch as fetch\n"
              "def run(args):\n"
              "    for i in range(100000): print('line', i)\n"
              "fetch.run = run  # a command with much to print\n"
              "from tinygrad_mnist.app.cli import main\n"
              "sys.exit(main(['fetch']))\n")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()  # as `head -1` does
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 141
    assert err == "", err
