"""fetch's failure lists each source once, on its own line; --data-root errors name it."""

from tinygrad_mnist.app.cli import main


def test_a_failed_fetch_lists_what_it_tried_once_each_on_its_own_line(tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "home"))
    (tmp_path / "empty").mkdir()
    assert main(["fetch", "--data-root", str(tmp_path / "empty"), "--offline"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("tinygrad-mnist: error: could not get")
    tried = [line for line in lines if line.startswith("  - ")]
    assert tried and len(tried) == len(set(tried))  # nothing said twice
    assert sum("t10k-labels-idx1-ubyte: neither" in line for line in lines) == 1


def test_a_bad_data_root_is_named_as_the_option(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "home"))
    assert main(["fetch", "--data-root", str(tmp_path / "missing"), "--offline"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-mnist: error: argument --data-root: expected a directory")
