"""Resumable training: the Trainer's whole state, checkpoints, and gradient clipping."""

import json

import numpy as np
import pytest
from support.synthetic import blobs

from tinygrad_mnist import nn, optim
from tinygrad_mnist.train import EarlyStopping, Trainer

X, Y = blobs(n=240, seed=3)
TRAIN, VALID = (X[:180], Y[:180]), (X[180:], Y[180:])


def make_trainer(checkpoint=None, optimizer="adam", schedule=True, patience=None, **kwargs):
    """A model with every kind of state: dropout's generator, moments, a schedule."""
    model = nn.Sequential(nn.Dense(8, 16, seed=0), nn.ReLU(), nn.Dropout(0.2, seed=1),
                          nn.Dense(16, 3, seed=2))
    if optimizer == "adam":
        opt = optim.Adam(model.parameters(), lr=0.02)
    else:
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    callbacks = [] if patience is None else [EarlyStopping(patience=patience)]
    return Trainer(model, nn.CrossEntropyLoss(), opt, batch_size=32, seed=4,
                   scheduler=optim.CosineLR(opt, total_epochs=6) if schedule else None,
                   callbacks=callbacks, checkpoint=checkpoint, **kwargs)


def assert_same_weights(a, b):
    for name, value in a.model.state_dict().items():
        np.testing.assert_array_equal(b.model.state_dict()[name], value, err_msg=name)


@pytest.mark.parametrize("optimizer", ["adam", "nesterov"])
@pytest.mark.parametrize("stop_after", [1, 3, 5])
def test_a_run_resumed_from_any_epoch_is_bit_identical_to_the_straight_run(
        tmp_path, optimizer, stop_after):
    straight = make_trainer(optimizer=optimizer, clip_grad_norm=1.0)
    expected = straight.fit(TRAIN, VALID, epochs=6)

    first = make_trainer(tmp_path / "run.ckpt.npz", optimizer=optimizer, clip_grad_norm=1.0)
    first.fit(TRAIN, VALID, epochs=stop_after)
    second = make_trainer(optimizer=optimizer, clip_grad_norm=1.0)
    second.load_checkpoint(tmp_path / "run.ckpt.npz")
    history = second.fit(TRAIN, VALID, epochs=6, resume=True)

    assert_same_weights(straight, second)
    assert history.epochs_run == 6
    assert history.train_loss == expected.train_loss
    assert history.val_loss == expected.val_loss and history.lr == expected.lr
    assert second.optimizer.step_count == straight.optimizer.step_count
    assert second.evaluate(VALID).scores() == straight.evaluate(VALID).scores()


def test_early_stopping_state_survives_a_resume(tmp_path):
    straight = make_trainer(patience=1, schedule=False)
    expected = straight.fit(TRAIN, VALID, epochs=30)
    assert expected.stopped_reason == "early-stopped"  # else the test shows nothing
    stop = expected.best_epoch  # before the stop, after the best epoch was seen
    first = make_trainer(tmp_path / "c.npz", patience=1, schedule=False)
    first.fit(TRAIN, VALID, epochs=stop)
    resumed = make_trainer(patience=1, schedule=False).load_checkpoint(tmp_path / "c.npz")
    history = resumed.fit(TRAIN, VALID, epochs=30, resume=True)
    assert history.epochs_run == expected.epochs_run and history.best_epoch == expected.best_epoch
    assert history.stopped_reason == "early-stopped"
    assert_same_weights(straight, resumed)  # the best weights were restored in both


def test_a_run_that_has_ended_does_not_train_again_on_resume(tmp_path):
    trainer = make_trainer(tmp_path / "c.npz", patience=0, schedule=False)
    trainer.fit(TRAIN, VALID, epochs=40)
    assert trainer.history.stopped_reason == "early-stopped"
    epochs = trainer.history.epochs_run
    again = make_trainer(patience=0, schedule=False).load_checkpoint(tmp_path / "c.npz")
    history = again.fit(TRAIN, VALID, epochs=40, resume=True)
    assert history.epochs_run == epochs and history.stopped_reason == "early-stopped"


def test_the_checkpoint_is_a_plain_npz_written_every_epoch(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.npz"
    written = []
    trainer = make_trainer(path)
    original = trainer.save_checkpoint

    def spy(target):
        original(target)
        with np.load(target, allow_pickle=False) as archive:
            written.append(json.loads(str(archive["meta"]))["epochs"])

    monkeypatch.setattr(trainer, "save_checkpoint", spy)
    trainer.fit(TRAIN, VALID, epochs=3)
    assert written == [1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]  # no leftovers
    with np.load(path, allow_pickle=False) as archive:
        names = set(archive.files)
        meta = json.loads(str(archive["meta"]))
    assert {"model/0.weight", "optimizer/first_moment.0", "optimizer/step_count"} <= names
    assert set(meta["generators"]) == {"trainer.rng", "model/2.rng"}
    assert meta["scheduler"] == {"epoch": 3, "base_lr": 0.02}
    assert len(meta["history"]["train_loss"]) == 3


def test_state_dict_round_trips_in_memory():
    trainer = make_trainer()
    trainer.fit(TRAIN, epochs=2)
    state = trainer.state_dict()
    other = make_trainer().load_state_dict(state)
    assert_same_weights(trainer, other)
    assert other.rng.bit_generator.state == trainer.rng.bit_generator.state
    assert other.model[2].rng.bit_generator.state == trainer.model[2].rng.bit_generator.state
    assert other.optimizer.lr == trainer.optimizer.lr


def test_resume_without_a_state_or_with_fewer_epochs_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="resume: this trainer has no saved state"):
        make_trainer().fit(TRAIN, epochs=2, resume=True)
    trainer = make_trainer(tmp_path / "c.npz")
    trainer.fit(TRAIN, epochs=3)
    with pytest.raises(ValueError, match="epochs: the saved run has already trained 3"):
        make_trainer().load_checkpoint(tmp_path / "c.npz").fit(TRAIN, epochs=2, resume=True)


def test_a_state_that_does_not_fit_leaves_the_trainer_unchanged(tmp_path):
    saved = make_trainer(tmp_path / "c.npz")
    saved.fit(TRAIN, epochs=1)
    target = make_trainer(schedule=False)  # the saved run had a schedule
    before = target.state_dict()
    with pytest.raises(ValueError, match="schedule"):
        target.load_checkpoint(tmp_path / "c.npz")
    for name, value in before.items():
        np.testing.assert_array_equal(target.state_dict()[name], value, err_msg=name)
    wider = nn.Sequential(nn.Dense(8, 32), nn.ReLU(), nn.Dense(32, 3))
    other = Trainer(wider, nn.CrossEntropyLoss(), optim.SGD(wider.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="shape"):
        other.load_checkpoint(tmp_path / "c.npz")


def test_files_that_are_not_checkpoints_are_refused_by_name(tmp_path):
    model_file = tmp_path / "model.npz"
    make_trainer().model.save(model_file)
    with pytest.raises(ValueError, match="model.npz' is not a trainer checkpoint"):
        make_trainer().load_checkpoint(model_file)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="junk.npz"):
        make_trainer().load_checkpoint(junk)
    state = make_trainer().state_dict()
    state["meta"] = np.array(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="format"):
        make_trainer().load_state_dict(state)


# ------------------------------------------------------------------- clipping
def test_clip_grad_norm_bounds_every_step():
    x, y = blobs(n=50)
    model = nn.MLP(8, [16], 3, seed=0)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1.0),
                      batch_size=None, clip_grad_norm=1e-3)
    before = [p.data.copy() for p in model.parameters()]
    trainer.fit((x, y), epochs=1)
    change = np.sqrt(sum(np.sum((p.data - b) ** 2) for p, b in zip(model.parameters(), before)))
    assert change == pytest.approx(1e-3, rel=1e-3)  # clipped to exactly max_norm
    unclipped = nn.MLP(8, [16], 3, seed=0)
    Trainer(unclipped, nn.CrossEntropyLoss(), optim.SGD(unclipped.parameters(), lr=1.0),
            batch_size=None).fit((x, y), epochs=1)
    free = np.sqrt(sum(np.sum((p.data - b) ** 2) for p, b in zip(unclipped.parameters(), before)))
    assert free > 10 * change


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "1"])
def test_bad_clip_grad_norm_is_refused(bad):
    with pytest.raises((ValueError, TypeError), match="clip_grad_norm"):
        make_trainer(clip_grad_norm=bad)


def test_a_batch_transforms_generator_is_saved_and_restored():
    class Shift:
        def __init__(self, seed):
            self.rng = np.random.default_rng(seed)

    trainer = make_trainer()
    trainer.transform = Shift(5)
    trainer.transform.rng.random(7)  # the stream has moved on
    state = trainer.state_dict()
    other = make_trainer()
    other.transform = Shift(6)
    other.load_state_dict(state)
    assert other.transform.rng.random() == trainer.transform.rng.random()
    with pytest.raises(ValueError, match="random generators"):
        make_trainer().load_state_dict(state)  # this one has no transform to restore
