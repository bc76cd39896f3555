"""The README's code and commands stay true."""

import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_mnist.data

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert len(first_block) == 2
    main_job, tests = first_block
    assert main_job.endswith("tinygrad-mnist train")
    assert tests.endswith("python -m pytest")
    assert tests in (ROOT / ".ci" / "run").read_text()
    assert README.startswith("# tinygrad_mnist\n\n```bash\n")  # the README opens with them


@pytest.mark.slow  # runs the README's example: trains a network
def test_the_one_minute_tour_runs(tmp_path, monkeypatch):
    # The tour trains on MNIST; here it gets 300 small random images instead, so the test
    # checks the code, not the accuracy (the README's figures come from real runs).
    rng = np.random.default_rng(0)

    def small_mnist(*args, **kwargs):
        def split(n):
            return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)
        return split(300), split(100)

    monkeypatch.setattr(tinygrad_mnist.data, "load_mnist", small_mnist)
    monkeypatch.chdir(tmp_path)
    tour = re.search(r"## A one-minute tour\n\n```python\n(.*?)```", README, re.S).group(1)
    namespace = {}
    exec(tour, namespace)  # noqa: S102 - our own README
    np.testing.assert_allclose(namespace["a"].grad, namespace["b"].data + 1)
    assert len(namespace["history"].train_loss) == 5
    assert (tmp_path / "mlp.npz").exists()
