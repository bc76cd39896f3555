"""`show MODEL IMAGE...` writes, per image, what `predict --show` writes (issue 22): the
picture with its crop marked, the 28x28 the model saw and the top-3 classes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tinygrad_mnist.app.cli import main

pytestmark = pytest.mark.slow  # trains a run folder and draws figures: seconds


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))
    assert main(["-q", "train", "--dataset", "synthetic", "--hidden", "16", "--epochs", "1",
                 "--out", "run"]) == 0
    two = np.zeros((60, 120), np.uint8)  # two marks: a doubtful framing, warned about
    two[10:50, 20:30] = 255
    two[10:50, 80:95] = 255
    Image.fromarray(two).save(tmp_path / "two.png")
    one = np.full((60, 60), 230, np.uint8)  # dark ink on light paper
    one[10:50, 25:33] = 20
    Image.fromarray(one).save(tmp_path / "one.png")
    return tmp_path


def test_show_with_images_writes_the_figure_predict_show_writes(here, capsys):
    capsys.readouterr()
    assert main(["show", "run", "one.png", "two.png"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("wrote run/framed/one.png (one.png: ")
    assert "tinygrad-mnist: warning: two.png: 2 separate marks" in captured.err
    assert main(["predict", "run", "one.png", "two.png", "--show", "seen"]) == 0
    for name in ("one.png", "two.png"):  # one function draws both, pixel for pixel
        shown = (here / "run" / "framed" / name).read_bytes()
        assert shown[:4] == b"\x89PNG"
        assert shown == (here / "seen" / name).read_bytes()


def test_show_with_images_goes_on_past_a_bad_file_and_takes_out_as_a_folder(here, capsys):
    (here / "notes.png").write_text("not a picture")
    capsys.readouterr()
    assert main(["show", "run", "notes.png", "one.png", "--out", "figures"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "notes.png" in captured.err
    assert (here / "figures" / "one.png").read_bytes()[:4] == b"\x89PNG"
    assert not (here / "figures" / "notes.png").exists()


@pytest.mark.parametrize("options, named", [
    (["--saliency"], "--saliency"), (["--mistakes"], "--mistakes"), (["--n", "4"], "--n"),
    (["--dataset", "synthetic"], "--dataset"), (["--out", "one.png"], "--out"),
])
def test_options_that_choose_test_images_are_refused_with_image_files(here, capsys, options,
                                                                       named):
    capsys.readouterr()
    assert main(["show", "run", "one.png", *options]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err
    assert not (here / "run" / "framed").exists()
