"""Argument checks shared by layers, optimizers and schedules: errors that name the argument."""

from __future__ import annotations

import math
import numbers


def check_positive_int(name: str, value, owner: str) -> int:
    """`value` if it is a positive int, else a TypeError/ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be a positive int, got {value!r}")
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value}")
    return int(value)


def check_number(name: str, value, owner: str, low: float = 0.0, high: float = math.inf,
                 high_inclusive: bool = True) -> float:
    """`value` as a float in [low, high] (or [low, high)), else an error naming `name`."""
    interval = f"[{low:g}, {high:g}{']' if high_inclusive else ')'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number in {interval}, got {value!r}")
    inside = low <= value <= high if high_inclusive else low <= value < high
    if not inside:  # also catches NaN, which compares false with everything
        raise ValueError(f"{owner}: {name} must be a number in {interval}, got {value}")
    return float(value)
