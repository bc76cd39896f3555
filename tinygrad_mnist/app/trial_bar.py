"""One progress bar over the trials of a `search` or the folds of a `kfold`, on a terminal.

The per-trial log lines (`trial 7/18 [100] tanh lr 0.5: validation 85.32% (4.1 s), about
1 min left`) stay the record; the bar only shows, below them, how far the whole command
has come. While it is drawn, the package's log lines go through `tqdm.write`, which
lifts the bar, writes the line and draws the bar again: a plain write to stderr would
land in the middle of the bar. In a pipe, a log file or with `-q` there is no bar.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys

from tinygrad_mnist.utils.terminal import stderr_is_terminal

#: The widest the bar may be, whatever the terminal's width (as the per-batch bar).
COLUMNS = 80


@contextlib.contextmanager
def trial_bar(total: int, description: str, *, done: int = 0, unit: str = "trial",
              quiet: bool = False):
    """A tqdm bar of `done` of `total` units, described as `description`, while the block
    runs (call its `update(1)` per finished unit); None, and nothing drawn, when stderr
    is no terminal or `quiet`. The bar is gone when the block ends."""
    if quiet or not stderr_is_terminal():
        yield None
        return
    from tqdm import tqdm  # only for a terminal: a log or a pipe never loads it
    from tqdm.contrib.logging import logging_redirect_tqdm

    # A terminal that reports no size (0 x 0, as a bare pseudo-terminal does) is taken as
    # 80 x 24: tqdm would hide a bar that has no row to stand on.
    size = shutil.get_terminal_size((COLUMNS, 24))
    bar = tqdm(total=total, initial=min(done, total), desc=description, unit=unit,
               leave=False, file=sys.stderr, ncols=min(COLUMNS, size.columns),
               nrows=size.lines, miniters=1,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                          f"{unit}s [{{elapsed}}<{{remaining}}]")
    # The command line's handler sits on the package's logger (app/cli.py).
    with bar, logging_redirect_tqdm([logging.getLogger("tinygrad_mnist")], tqdm_class=tqdm):
        yield bar
