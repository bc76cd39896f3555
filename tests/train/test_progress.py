"""metrics.csv after every epoch (also after a SIGKILL), and fit's progress bar by default."""

import csv
import math
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from support.synthetic import blobs
from support.terminal import on_terminal

from tinygrad_mnist import nn, optim
from tinygrad_mnist.train import CSVLogger, EpochLog, ProgressBar, Trainer


def trainer(callbacks=(), checkpoint=None):
    model = nn.MLP(8, [8], 3, seed=0)
    return Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                   batch_size=30, seed=0, callbacks=callbacks, checkpoint=checkpoint)


def read_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_csv_logger_writes_one_row_per_epoch_in_keras_shape(tmp_path):
    x, y = blobs(n=90)
    history = trainer([CSVLogger(tmp_path / "metrics.csv")]).fit((x, y), (x[:30], y[:30]),
                                                                 epochs=3)
    rows = read_rows(tmp_path / "metrics.csv")
    assert list(rows[0]) == ["epoch", "train_loss", "train_accuracy", "val_loss",
                             "val_accuracy", "lr", "seconds"]
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    assert [float(row["val_loss"]) for row in rows] == history.val_loss
    assert [float(row["lr"]) for row in rows] == [0.1] * 3
    trainer([CSVLogger(tmp_path / "no-val.csv")]).fit((x, y), epochs=1)
    assert read_rows(tmp_path / "no-val.csv")[0]["val_loss"] == ""  # no validation: empty


def test_a_resumed_run_rewrites_its_csv_from_the_history_then_appends(tmp_path):
    x, y = blobs(n=90)
    first = trainer([CSVLogger(tmp_path / "m.csv")], checkpoint=tmp_path / "c.npz")
    first.fit((x, y), epochs=2)
    with open(tmp_path / "m.csv", "a") as file:
        file.write("3,9,9,9,9,9,9\n")  # a row of an epoch the checkpoint never saw
    again = trainer([CSVLogger(tmp_path / "m.csv")], checkpoint=tmp_path / "c.npz")
    again.load_checkpoint(tmp_path / "c.npz")
    history = again.fit((x, y), epochs=4, resume=True)
    rows = read_rows(tmp_path / "m.csv")
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3, 4]
    assert [float(row["train_loss"]) for row in rows] == history.train_loss


@pytest.mark.slow
def test_the_csv_keeps_every_finished_epoch_after_a_sigkill(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.path.dirname(os.path.dirname(__file__))!r})
        from support.synthetic import blobs
        from tinygrad_mnist import nn, optim
        from tinygrad_mnist.train import Callback, CSVLogger, Trainer

        class Slow(Callback):
            def on_epoch_end(self, trainer, epoch, logs):
                print(epoch, flush=True)
                time.sleep(0.5 if epoch < 3 else 60)

        x, y = blobs(n=90)
        model = nn.MLP(8, [8], 3, seed=0)
        Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                callbacks=[CSVLogger({str(tmp_path / "m.csv")!r}), Slow()]).fit((x, y), epochs=9)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        for expected in ("1", "2", "3"):
            assert process.stdout.readline().strip() == expected
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()
    rows = read_rows(tmp_path / "m.csv")
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert all(math.isfinite(float(row["train_loss"])) for row in rows)


def test_fit_verbose_picks_the_progress_report_as_keras_does(monkeypatch):
    import tinygrad_mnist.train.callbacks as callbacks

    x, y = blobs(n=60)
    seen = []

    class Spy(ProgressBar):
        def on_train_begin(self, trainer):
            super().on_train_begin(trainer)
            seen.append(self._shown)

    monkeypatch.setattr("tinygrad_mnist.train.trainer.ProgressBar", Spy)
    monkeypatch.setattr(callbacks, "stderr_is_terminal", lambda: False)
    fitted = trainer()
    fitted.fit((x, y), epochs=1)  # "auto", not a terminal: a bar that stays hidden
    assert seen == [False] and not any(isinstance(c, Spy) for c in fitted.callbacks)
    monkeypatch.setattr(callbacks, "stderr_is_terminal", lambda: True)
    fitted.fit((x, y), epochs=1)
    assert seen == [False, True]
    trainer().fit((x, y), epochs=1, verbose=0)
    trainer([EpochLog()]).fit((x, y), epochs=1, verbose=1)  # one report is enough
    assert seen == [False, True]
    with pytest.raises(ValueError, match="verbose"):
        trainer().fit((x, y), epochs=1, verbose="loud")


@pytest.mark.slow
def test_fit_draws_its_bar_on_a_terminal(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.path.dirname(os.path.dirname(__file__))!r})
        from support.synthetic import blobs
        from tinygrad_mnist import nn, optim
        from tinygrad_mnist.train import Trainer
        x, y = blobs(n=60)
        model = nn.MLP(8, [8], 3, seed=0)
        Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                batch_size=20).fit((x, y), epochs=2, verbose={{verbose}})
    """)
    for verbose, drawn in (("'auto'", True), ("0", False)):
        output, _ = on_terminal([sys.executable, "-c", script.replace("{verbose}", verbose)],
                                timeout=60)
        assert ("epoch 2/2" in output) == drawn, output
