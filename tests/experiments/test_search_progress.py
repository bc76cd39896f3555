"""A search says how far it is: the configuration, the count, the time left."""

import logging
import re

from support import synthetic

from tinygrad_mnist.experiments import grid_search
from tinygrad_mnist.experiments.search import TrialProgress, describe_config

SPACE = {"hidden_sizes": [[6], [12, 6]], "activation": ["tanh"],
         "learning_rate": [0.05, 0.5], "batch_size": [32], "epochs": [2]}


def test_each_trial_logs_its_configuration_count_result_and_time_left(caplog):
    x, y = synthetic.blobs(120, spread=2.0)
    with caplog.at_level(logging.INFO, logger="tinygrad_mnist"):
        grid_search(SPACE, (x, y), k=2, top_n=1, seed=0)
    lines = [r.getMessage() for r in caplog.records if "trial " in r.getMessage()
             and "/" in r.getMessage()]
    holdout = [line for line in lines if line.startswith("trial ")]
    kfold = [line for line in lines if line.startswith("k-fold trial ")]
    assert len(holdout) == 4 and len(kfold) == 2
    pattern = (r"trial (\d)/4 \[(6|12,6)\] lr (0\.05|0\.5): validation \d+\.\d\d% "
               r"\(\d+\.\d s\)(, about \d+ s left)?")
    assert all(re.fullmatch(pattern, line) for line in holdout), holdout
    assert [int(re.match(r"trial (\d)", line).group(1)) for line in holdout] == [1, 2, 3, 4]
    assert "left" not in holdout[-1] and "about" in holdout[0]
    assert re.fullmatch(r"k-fold trial 1/2 .* fold [12]: validation .*", kfold[0]), kfold


def test_a_configuration_is_named_by_what_varies():
    config = {"hidden_sizes": [100], "activation": "tanh", "learning_rate": 0.5,
              "batch_size": None, "augment": True}
    assert describe_config(config) == "[100] tanh lr 0.5"
    assert describe_config(config, ("batch_size", "augment")) == "batch size full augment"
    progress = TrialProgress("holdout", 0, 18, ("hidden_sizes", "activation", "learning_rate"))
    assert progress.seconds_left is None
    line = progress.one_more().line({"config": config, "status": "diverged",
                                     "val_accuracy": 0.1, "seconds": 4.12, "fold": None})
    assert re.fullmatch(r"trial 1/18 \[100\] tanh lr 0\.5: validation 10\.00% \(diverged\) "
                        r"\(4\.1 s\), about \d+ s left", line), line
