"""A training run's whole state as arrays: what `Trainer.save_checkpoint` writes.

    model/<name>            every weight and buffer (`Layer.state_dict`)
    optimizer/<name>        rate, step count, momentum or moment arrays (`Optimizer.state_dict`)
    callback/<key>/<name>   arrays a callback remembers (early stopping's best weights)
    meta                    one JSON string: format, epochs done, history, schedule,
                            the state of every random generator, callbacks' other values

A resumed run is bit for bit the uninterrupted one only if every source of randomness
comes back: the trainer's batch-order generator, and any `numpy.random.Generator` that
its batch `transform` (augmentation) or a layer (`Dropout.rng`) keeps as an attribute,
are saved with their exact state. The file
is an `.npz` read with `allow_pickle=False`: no Python object is ever unpickled.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tinygrad_mnist.train.history import History
from tinygrad_mnist.utils.atomic import atomic_write

FORMAT = "tinygrad_mnist.trainer-checkpoint"
VERSION = 1
# A run stopped by Ctrl-C may go on; one that early-stopped or diverged has ended.
_RESUMABLE_REASONS = (None, "interrupted")

logger = logging.getLogger(__name__)


@dataclass
class Restored:
    """What `Trainer.fit(resume=True)` still needs once the arrays are back in place."""

    history: History
    callbacks: dict[str, dict]
    stop_reason: str | None


def _generators(trainer) -> Iterator[tuple[str, np.random.Generator]]:
    """Every random generator the run draws from, by a stable name: the batch order's, a
    batch transform's (augmentation), and those the model's layers keep (dropout)."""
    yield "trainer.rng", trainer.rng
    transform = getattr(trainer, "transform", None)
    for attribute, value in vars(transform).items() if hasattr(transform, "__dict__") else ():
        if isinstance(value, np.random.Generator):
            yield f"transform.{attribute}", value

    def walk(layer, prefix):
        for attribute, value in vars(layer).items():
            if isinstance(value, np.random.Generator):
                yield f"model/{prefix}{attribute}", value
        for name, child in layer.named_children():
            yield from walk(child, f"{prefix}{name}.")

    yield from walk(trainer.model, "")


def _keyed_callbacks(callbacks) -> Iterator[tuple[str, object]]:
    """Callbacks named by class and rank among their class (`EarlyStopping.0`): a progress
    display that differs between two runs does not shift the others' names."""
    seen: dict[str, int] = {}
    for callback in callbacks:
        name = type(callback).__name__
        seen[name] = seen.get(name, -1) + 1
        yield f"{name}.{seen[name]}", callback


def trainer_state(trainer) -> dict[str, np.ndarray]:
    """The state of `trainer` as name -> array (see the module's docstring)."""
    state = {f"model/{name}": array for name, array in trainer.model.state_dict().items()}
    state.update({f"optimizer/{name}": np.asarray(array)
                  for name, array in trainer.optimizer.state_dict().items()})
    callbacks = {}
    for key, callback in _keyed_callbacks(trainer.callbacks):
        values = callback.state_dict()
        if not values:
            continue
        callbacks[key] = {n: v for n, v in values.items() if not isinstance(v, np.ndarray)}
        state.update({f"callback/{key}/{n}": np.array(v) for n, v in values.items()
                      if isinstance(v, np.ndarray)})
    history = trainer.history if trainer.history is not None else History()
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "epochs": history.epochs_run,
        "history": history.to_dict(),
        "stop_reason": trainer.stop_reason,
        "scheduler": None if trainer.scheduler is None else trainer.scheduler.state_dict(),
        "generators": {name: rng.bit_generator.state for name, rng in _generators(trainer)},
        "callbacks": callbacks,
    }
    state["meta"] = np.array(json.dumps(meta))
    return state


def _meta(state: dict) -> dict:
    if not isinstance(state, dict) or "meta" not in state:
        raise ValueError("state: expected a trainer state (a dict with a 'meta' entry, from "
                         "Trainer.state_dict or a checkpoint file)")
    try:
        meta = json.loads(str(np.asarray(state["meta"])[()]))
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        raise ValueError(f"state: its 'meta' entry is not valid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"state: expected a {FORMAT} state, got format "
                         f"{meta.get('format') if isinstance(meta, dict) else meta!r}")
    if meta.get("version") != VERSION:
        raise ValueError(f"state: expected checkpoint version {VERSION}, got "
                         f"{meta.get('version')!r} (written by another version of the package)")
    return meta


def _group(state: dict, prefix: str) -> dict[str, np.ndarray]:
    return {name[len(prefix):]: value for name, value in state.items()
            if name.startswith(prefix)}


def _check_meta(meta: dict) -> History:
    """The history `meta` holds, once every other value in it is checked to be of its kind
    (a tampered file is refused here, before anything is restored or written)."""
    for key, kind in (("epochs", int), ("history", dict), ("generators", dict),
                      ("callbacks", dict), ("scheduler", (dict, type(None))),
                      ("stop_reason", (str, type(None)))):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise ValueError(f"state: its {key!r} is {meta.get(key)!r}")
    reason = meta["stop_reason"]
    if reason is not None and not _WORD.fullmatch(reason):
        raise ValueError(f"state: its stop reason {reason!r} is not a word")
    try:
        history = History.from_dict(meta["history"])
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"state: its history is not one ({error})") from None
    lengths = {len(getattr(history, name)) for name in
               ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds", "lr")}
    if lengths != {meta["epochs"]} or not _WORD.fullmatch(history.stopped_reason):
        raise ValueError(f"state: its history does not hold {meta['epochs']} epochs")
    best = history.best_epoch
    if best is not None and (isinstance(best, bool) or not isinstance(best, int)
                             or not 1 <= best <= meta["epochs"]):
        raise ValueError(f"state: its best epoch {best!r} is not one of the epochs run")
    for name, saved in meta["generators"].items():
        try:  # set on a scratch generator of its kind: a bad state fails here
            kind = getattr(np.random, saved["bit_generator"])
            np.random.Generator(kind()).bit_generator.state = saved
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as error:
            raise ValueError(f"state: random generator {name!r} has a bad state "
                             f"({type(error).__name__}: {error})") from None
    if not all(isinstance(values, dict) for values in meta["callbacks"].values()):
        raise ValueError("state: its callback states are not all tables of values")
    return history


_WORD = re.compile(r"[a-z][a-z0-9_-]{0,63}")


def restore_trainer(trainer, state: dict) -> Restored:
    """Put `state` back into `trainer`: all of it, or, on any error, none of it."""
    meta = _meta(state)
    history = _check_meta(meta)
    callbacks = {key: {**values, **_group(state, f"callback/{key}/")}
                 for key, values in meta["callbacks"].items()}
    before = trainer_state(trainer)
    try:
        _restore(trainer, state, meta)
        _try_callbacks(trainer, callbacks)
    except BaseException:
        _restore(trainer, before, _meta(before))
        raise
    reason = meta["stop_reason"]
    return Restored(history, callbacks, None if reason in _RESUMABLE_REASONS else reason)


def _try_callbacks(trainer, states: dict[str, dict]) -> None:
    """Load each callback's saved state into a copy of it, so a state that does not fit is
    refused now, not in `fit` (the callbacks themselves take it after `on_train_begin`)."""
    keyed = dict(_keyed_callbacks(trainer.callbacks))
    for key, values in states.items():
        if key in keyed:
            try:
                scratch = copy.deepcopy(keyed[key])
            except Exception:  # noqa: BLE001 - a callback that cannot be copied: checked in fit
                continue
            try:
                scratch.load_state_dict(values)
            except (TypeError, ValueError, KeyError, AttributeError) as error:
                raise ValueError(f"state: the saved state of callback {key} does not fit "
                                 f"({type(error).__name__}: {error})") from None


def _restore(trainer, state: dict, meta: dict) -> None:
    trainer.model.load_state_dict(_group(state, "model/"))
    trainer.optimizer.load_state_dict(_group(state, "optimizer/"))
    if (meta["scheduler"] is None) != (trainer.scheduler is None):
        raise ValueError(
            "state: the saved run " + ("had no" if meta["scheduler"] is None else "had a")
            + " learning-rate schedule and this trainer " + ("has one" if trainer.scheduler
                                                              else "has none"))
    if trainer.scheduler is not None:
        try:
            trainer.scheduler.load_state_dict(meta["scheduler"])
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            raise ValueError(f"state: the learning-rate schedule's state is bad "
                             f"({type(error).__name__}: {error})") from None
    generators = dict(_generators(trainer))
    saved = meta["generators"]
    if set(saved) != set(generators):
        raise ValueError(f"state: the saved run drew from the random generators "
                         f"{sorted(saved)}, this trainer has {sorted(generators)}")
    for name, rng in generators.items():
        rng.bit_generator.state = saved[name]


def restore_callbacks(trainer, states: dict[str, dict]) -> None:
    """Give each callback what its namesake of the saved run remembered."""
    keyed = dict(_keyed_callbacks(trainer.callbacks))
    for key, values in states.items():
        if key in keyed:
            keyed[key].load_state_dict(values)
        else:
            logger.warning("the saved run had a %s callback that this one lacks; its state "
                           "is dropped", key)


def write_checkpoint(state: dict[str, np.ndarray], path) -> None:
    """Write a trainer state to `path` as an `.npz`, atomically."""
    with atomic_write(path) as file:
        np.savez(file, **state)


def read_checkpoint(path) -> dict[str, np.ndarray]:
    """The trainer state in the `.npz` at `path`, checked to be one, every value of its
    `meta` included: "checkpoint FILE is damaged (...)" otherwise."""
    from tinygrad_mnist.utils.npz import read_npz

    state = read_npz(path)
    try:
        _meta(state)
    except ValueError as error:
        raise ValueError(f"checkpoint: {str(path)!r} is not a trainer checkpoint: "
                         f"{str(error).removeprefix('state: ')}") from None
    try:
        _check_meta(_meta(state))
    except ValueError as error:
        raise CheckpointDamagedError(path, error) from None
    return state


class CheckpointDamagedError(ValueError):
    """A checkpoint whose values cannot be restored: the message names the file."""

    def __init__(self, path, error: Exception):
        super().__init__(f"checkpoint {str(path)!r} is damaged "
                         f"({str(error).removeprefix('state: ')})")
