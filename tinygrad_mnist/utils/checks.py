"""Argument checks shared by layers, optimizers and schedules: errors that name the argument."""

from __future__ import annotations

import math
import numbers


def check_int(name: str, value, owner: str, low: int = 1, allow_none: bool = False):
    """`value` as an int >= `low` (or None, if allowed), else a TypeError/ValueError naming it."""
    if value is None and allow_none:
        return None
    expected = ("a positive int" if low == 1 else f"an int >= {low}") + \
        (" or None" if allow_none else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be {expected}, got {value!r}")
    if value < low:
        raise ValueError(f"{owner}: {name} must be {expected}, got {value}")
    return int(value)


def check_positive_int(name: str, value, owner: str) -> int:
    """`value` if it is a positive int, else a TypeError/ValueError naming `name`."""
    return check_int(name, value, owner, low=1)


def check_number(name: str, value, owner: str, low: float = 0.0, high: float = math.inf,
                 high_inclusive: bool = True, low_inclusive: bool = True) -> float:
    """`value` as a float between `low` and `high` (each end included unless said otherwise),
    else a TypeError/ValueError naming `name` and the interval."""
    interval = f"{'[' if low_inclusive else '('}{low:g}, {high:g}{']' if high_inclusive else ')'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number in {interval}, got {value!r}")
    above = low <= value if low_inclusive else low < value
    below = value <= high if high_inclusive else value < high
    if not (above and below):  # also catches NaN, which compares false with everything
        raise ValueError(f"{owner}: {name} must be a number in {interval}, got {value}")
    return float(value)


def check_shape(name: str, value, owner: str) -> tuple[int, ...]:
    """`value` as the shape of one example (a non-empty tuple of positive ints, no batch axis;
    one int `n` is `(n,)`), else a TypeError/ValueError naming `name`."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)) or not value:
        raise TypeError(f"{owner}: {name} must be the shape of one example, a tuple of positive "
                        f"ints such as (784,) or (1, 28, 28), got {value!r}")
    return tuple(check_positive_int(f"{name}[{i}]", n, owner) for i, n in enumerate(value))
