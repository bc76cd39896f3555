"""Plain-text helpers for tables of results: percentages, Markdown tables, strict JSON.

One copy each, shared by the exports, the run-folder report and the command line.
"""

from __future__ import annotations

import math


def json_safe(value):
    """NaN and infinities as None: strict JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _format(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:g}"
    return str(value)


def percent(value: float, missing: str = "–") -> str:
    """`value` (a fraction) as a percentage with two decimals; `missing` when not finite."""
    return missing if not math.isfinite(value) else f"{100 * value:.2f}%"


def markdown_table(rows: list[dict], percent_columns=()) -> str:
    """A Markdown table of dicts sharing keys; columns named in `percent_columns` shown as %."""
    if not rows:
        return "_(none)_\n"
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [percent(row[h]) if h in percent_columns else _format(row[h]) for h in headers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def architecture(hidden_sizes) -> str:
    """Hidden layer sizes as the seed wrote them: `[128, 64]`."""
    return "[" + ", ".join(str(size) for size in hidden_sizes) + "]"


def describe(config: dict, defaults: dict) -> str:
    """The seed's three settings, then any other that differs from `defaults`, as key=value."""
    always = ("hidden_sizes", "activation", "learning_rate")
    shown = [k for k in always if k in config]
    shown += [k for k, v in config.items() if k not in always and v != defaults[k]]
    return ", ".join(f"{k.replace('_', ' ')} {setting_text(k, config[k])}" for k in shown)


def setting_text(key: str, value) -> str:
    """A setting as a person reads it: no JSON `null`, no quotes."""
    if value is None:
        return {"batch_size": "full", "patience": "off", "clip_grad_norm": "off"}.get(key, "none")
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return architecture(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
