"""`History`: what happened in one `Trainer.fit`, epoch by epoch, and why it ended."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from tinygrad_mnist.utils.atomic import atomic_write_text

# Why a run ended -> its status word (the result store's STATUSES add "failed"). A reason
# of a user's own callback (say "target-reached") is an early stop.
_STATUS_BY_REASON = {
    "completed": "ok",
    "early-stopped": "early-stopped",
    "diverged": "diverged",
    "interrupted": "interrupted",
}


def status_of(stopped_reason: str) -> str:
    """The status word of a run that ended for `stopped_reason` (what a result store records)."""
    return _STATUS_BY_REASON.get(stopped_reason, "early-stopped")


_CURVES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds", "lr")


@dataclass
class History:
    """Per-epoch curves of one training run, the best epoch and why the run stopped.

    Every list has one entry per epoch run; `val_loss`/`val_accuracy` hold NaN when
    the run had no validation data. `best_epoch` is 1-based: the epoch whose weights
    the model holds at the end when early stopping restored them, else the epoch of
    the lowest validation (or, without validation, training) loss. `stopped_reason`
    is "completed", "early-stopped", "diverged", "interrupted", or the reason a
    callback of your own gave to `trainer.stop(reason)`.
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_reason: str = "completed"

    @property
    def epochs_run(self) -> int:
        """The number of epochs run."""
        return len(self.train_loss)

    @property
    def status(self) -> str:
        """The result-store status: "ok", "early-stopped", "diverged" or "interrupted"."""
        return status_of(self.stopped_reason)

    def append(self, logs: dict) -> None:
        """Record one epoch from a `Trainer` log dict (the keys of the curves)."""
        for name in _CURVES:
            getattr(self, name).append(float(logs[name]))

    def lowest_loss_epoch(self) -> int | None:
        """The 1-based epoch of the lowest finite validation loss (training loss without one)."""
        has_validation = any(math.isfinite(v) for v in self.val_loss)
        losses = self.val_loss if has_validation else self.train_loss
        finite = [(loss, epoch) for epoch, loss in enumerate(losses, 1) if math.isfinite(loss)]
        return min(finite)[1] if finite else None

    def to_dict(self) -> dict:
        """A JSON-ready dict; NaN and infinities become None (JSON has no such numbers)."""
        data = {name: [_finite_or_none(v) for v in getattr(self, name)] for name in _CURVES}
        data["best_epoch"] = self.best_epoch
        data["stopped_reason"] = self.stopped_reason
        return data

    @classmethod
    def from_dict(cls, data: dict) -> History:
        """The inverse of `to_dict` (None comes back as NaN)."""
        unknown = set(data) - set(_CURVES) - {"best_epoch", "stopped_reason"}
        if unknown:
            raise ValueError(f"History.from_dict: unknown keys {sorted(unknown)}")
        reason = data.get("stopped_reason", "completed")
        if not isinstance(reason, str) or not reason:
            raise ValueError(f"History.from_dict: stopped_reason must be a word, got {reason!r}")
        curves = {
            name: [math.nan if v is None else float(v) for v in data.get(name, [])]
            for name in _CURVES
        }
        return cls(**curves, best_epoch=data.get("best_epoch"), stopped_reason=reason)

    def save_json(self, path) -> None:
        """Write `to_dict()` to `path` as JSON."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1))


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
