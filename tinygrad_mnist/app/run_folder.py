"""A run folder: everything one `tinygrad-mnist train` run leaves behind.

    runs/20250101-120000/
        config.json             the `RunConfig` (written first), so the model can be rebuilt
        data.json               the data set's absolute path and digest, so a resumed run
                                goes on with the very data it began with
        checkpoint.npz          the whole training state after the last finished epoch,
                                so `train --resume` goes on after a crash or a kill
        events.jsonl            one JSON line per batch and epoch, appended as training
                                goes (`train.EventLog`): what the studio's Live view follows
        model.npz               the weights (`Layer.save`)
        model.json              what the model takes and gives: `input_shape` (one
                                example's shape) and `num_classes`, to rebuild it
        history.json            per-epoch losses, accuracies, seconds, learning rates
        metrics.json            the test set's scores: loss, accuracy, top-k, per class
                                accuracy, precision, recall and F1, confusion matrix
        report.md               all of it for people to read, the figures embedded
                                (the test set's scores, figures and report sections are
                                `evaluation_report`'s, which `evaluate` writes too)
        learning_curves.png  mistakes.png  predictions.png  confusion_matrix.png
        true_vs_predicted.png
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import math
import os
from pathlib import Path

import numpy as np

from tinygrad_mnist.app import evaluation_report
from tinygrad_mnist.app.predict import DivergedModelError
from tinygrad_mnist.data.images import SIDE
from tinygrad_mnist.experiments.tables import percent, setting_text
from tinygrad_mnist.train.config import RunConfig
from tinygrad_mnist.train.evaluation import Evaluation
from tinygrad_mnist.train.event_log import EVENTS_FILE
from tinygrad_mnist.utils.atomic import atomic_write_text

logger = logging.getLogger(__name__)

__all__ = [
    "check_resumed_data",
    "data_record",
    "read_data_record",
    "resumed_dataset",
    "run_folder_lock",
    "write_data_record",
    "load_run_model",
    "model_file",
    "new_run_folder",
    "read_run_config",
    "run_class_names",
    "prepare_run_folder",
    "render_report",
    "run_model_shapes",
    "save_model_first",
    "write_config",
    "write_run_folder",
]

MODEL_FILE = "model.npz"
MODEL_SHAPES_FILE = "model.json"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
CURVES_CSV_FILE = "metrics.csv"  # a row per epoch as it ends (Keras's CSVLogger)
REPORT_FILE = "report.md"
CHECKPOINT_FILE = "checkpoint.npz"
# The learning curves, then the test set's figures (`evaluation_report.FIGURES`).
FIGURES = {"learning_curves.png": "Learning curves",
           **{f"{name}.png": title for name, title in evaluation_report.FIGURES.items()}}
DATA_FILE = "data.json"
LOCK_FILE = ".lock"
#: Every file a run writes into its folder: `train --out` refuses a folder holding one.
RUN_FILES = (CONFIG_FILE, DATA_FILE, CHECKPOINT_FILE, MODEL_FILE, MODEL_SHAPES_FILE,
             HISTORY_FILE, METRICS_FILE, CURVES_CSV_FILE, REPORT_FILE, EVENTS_FILE, *FIGURES)



def new_run_folder(parent="runs", now: datetime.datetime | None = None) -> Path:
    """Create and return `parent/<date>-<time>` (with `-2`, `-3`... if that one exists)."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        folder = parent / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"new_run_folder: no free name for {stamp!r} in {str(parent)!r}")


def prepare_run_folder(folder) -> Path:
    """Create `folder` if needed; refuse one holding any file the run would write
    (`RUN_FILES`: a run, or a stranger's `report.md`), so nothing is overwritten."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"out: {str(folder)!r} is a file, expected a folder for the run")
    run = [name for name in (CONFIG_FILE, MODEL_FILE) if os.path.lexists(folder / name)]
    if run:
        raise ValueError(
            f"out: {str(folder)!r} already holds a run ({run[0]}); continue it with "
            f"'train --resume {folder}', or choose another folder"
        )
    taken = [name for name in RUN_FILES if os.path.lexists(folder / name)]
    if taken:
        raise ValueError(
            f"out: {str(folder)!r} already holds {taken[0]}, which the run would overwrite; "
            "choose another folder (or move the file away)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def run_folder_lock(folder):
    """Hold `folder`'s lock while a run writes there, or refuse at once (ValueError) when
    another process holds it; with the lock held, the hidden temporary files of a write
    that a kill interrupted are removed (no one else can be writing them)."""
    from tinygrad_mnist.data.lock import FileLock, LockBusyError
    from tinygrad_mnist.utils.atomic import remove_partial_files

    try:
        with FileLock(Path(folder) / LOCK_FILE, wait=False):
            for partial in remove_partial_files(folder):
                logger.info("removed %s, left by an interrupted write", partial)
            yield Path(folder)
    except LockBusyError as error:
        raise ValueError(f"run: {str(folder)!r} is in use by another process"
                         f"{f' ({error.holder})' if error.holder else ''}; wait for it to end"
                         ) from None


def data_record(data, dataset: str) -> dict:
    """What `data.json` holds: the data set as given, its absolute path when it is a file,
    and a digest of its four arrays."""
    digest = hashlib.sha256()
    for array in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.data)
    from tinygrad_mnist.data.by_name import DATASET_NAMES

    return {"dataset": dataset,
            "path": None if dataset in DATASET_NAMES else str(Path(dataset).resolve()),
            "digest": digest.hexdigest()[:16]}


def write_data_record(folder, record: dict) -> Path:
    """Write `data.json` into `folder` (right after `config.json`)."""
    path = Path(folder) / DATA_FILE
    _write_json(path, record)
    return path


def read_data_record(folder) -> dict | None:
    """The run's `data.json` (None for a run written before runs recorded their data)."""
    path = Path(folder) / DATA_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"run: {str(path)!r} cannot be read ({error})") from None
    if not isinstance(record, dict) or not isinstance(record.get("digest"), str):
        raise ValueError(f"run: {str(path)!r} is damaged (no data digest)")
    return record


def check_resumed_data(folder, record: dict | None, data, dataset: str) -> None:
    """Refuse (ValueError) to go on with data other than the run began with."""
    if record is None:
        return
    now = data_record(data, dataset)
    if now["digest"] != record["digest"]:
        where = f" at {record['path']}" if record.get("path") else ""
        raise ValueError(
            f"dataset: the run {str(folder)!r} began on {record['dataset']}{where} (data "
            f"digest {record['digest']}), but that data set now holds other data (digest "
            f"{now['digest']}); resuming would mix two data sets: train a new run instead"
        )


def resumed_dataset(config: RunConfig, record: dict | None) -> str:
    """The data set a resumed run reads: the absolute path it recorded, else its config's."""
    return record["path"] if record and record.get("path") else config.dataset


def _write_json(path: Path, data) -> None:
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def _save_model(folder: Path, model) -> None:
    """`model.json` (its input shape and classes), then `model.npz` (its weights)."""
    from tinygrad_mnist.app.predict import model_classes

    if model.input_shape is not None and model_classes(model) is not None:
        _write_json(folder / MODEL_SHAPES_FILE, {"input_shape": list(model.input_shape),
                                                 "num_classes": model_classes(model)})
    model.save(folder / MODEL_FILE)


def save_model_first(folder, *, model, config: RunConfig, history) -> None:
    """Write the model, its config and its history: what a run must never lose.

    Called as soon as training ends, before the (interruptible) test evaluation;
    `write_run_folder` writes them again beside the rest.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _save_model(folder, model)
    _write_json(folder / CONFIG_FILE, config.to_dict())
    _write_json(folder / HISTORY_FILE, history.to_dict())


def write_config(folder, config: RunConfig) -> Path:
    """Write `config.json` into `folder`: first of all, so a killed run can be resumed."""
    path = Path(folder) / CONFIG_FILE
    _write_json(path, config.to_dict())
    return path


def write_run_folder(folder, *, model, config: RunConfig, history, evaluation: Evaluation,
                     images, class_names=None, dataset_label: str | None = None
                     ) -> dict[str, Path]:
    """Write the model, config, history, test metrics, figures and report into `folder`.

    `history` is the `History` of the run (possibly cut short: the report says why it
    stopped); `evaluation` holds the test-set predictions of `images` (uint8, for the
    figures). Returns name -> path of every file written.
    """
    from tinygrad_mnist import viz

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    _save_model(folder, model)
    written[MODEL_FILE] = folder / MODEL_FILE
    if (folder / MODEL_SHAPES_FILE).is_file():
        written[MODEL_SHAPES_FILE] = folder / MODEL_SHAPES_FILE
    for name, data in ((CONFIG_FILE, config.to_dict()), (HISTORY_FILE, history.to_dict())):
        _write_json(folder / name, data)
        written[name] = folder / name
    scores = evaluation_report.scores(evaluation, class_names, dataset_label or config.dataset)
    written[METRICS_FILE] = evaluation_report.write_scores(folder / METRICS_FILE, scores)
    figures = evaluation_report.write_figures(folder, evaluation, images, class_names,
                                              dataset_label or config.dataset)
    if history.epochs_run:  # a run stopped before its first epoch ended has no curves
        viz.plot_learning_curves(
            history, test_accuracy=None if evaluation.diverged else evaluation.accuracy,
            path=folder / "learning_curves.png")
        written["learning_curves.png"] = folder / "learning_curves.png"
    written.update({path.name: path for path in figures.values()})
    report = render_report(str(folder), config, history, evaluation, class_names,
                           figures=[name for name in FIGURES if name in written],
                           dataset_label=dataset_label)
    atomic_write_text(folder / REPORT_FILE, report)
    written[REPORT_FILE] = folder / REPORT_FILE
    return written


def render_report(title: str, config: RunConfig, history, evaluation: Evaluation,
                  class_names=None, figures=(), dataset_label: str | None = None) -> str:
    """The Markdown report of a run: summary, configuration, figures and tables."""
    dataset_label = dataset_label or config.dataset
    stopped = {"completed": "completed", "early-stopped": "stopped early",
               "diverged": "diverged", "interrupted": "interrupted (Ctrl-C)"}
    lines = [
        f"# Training run {title}",
        "",
        f"**Diverged**: the model's outputs are not finite (NaN), so it has no test accuracy "
        f"on the {len(evaluation.labels):,} {dataset_label} test images."
        if evaluation.diverged else
        f"**Test accuracy: {evaluation.accuracy:.2%}** on {len(evaluation.labels):,} "
        f"{dataset_label} test images.",
        "",
        f"Training {stopped.get(history.stopped_reason, 'stopped')} after "
        f"{history.epochs_run} of {config.epochs} epochs ({sum(history.seconds):.1f} s)"
        + (f"; the model holds the weights of epoch {history.best_epoch}."
           if history.best_epoch is not None and config.patience is not None else "."),
        "",
        "## Configuration",
        "",
        "| setting | value |",
        "| --- | --- |",
    ]
    settings = config.to_dict()  # the fields that apply to the run's model
    for key, value in settings.items():
        if key in ("hidden_sizes", "channels"):
            value = ", ".join(map(str, value)) or (
                "none" if "channels" in settings else "none (linear model)")
        else:
            value = setting_text(key, value)  # words, never None or False
        lines.append(f"| {key} | {value} |")
    if "learning_curves.png" in figures:
        lines += ["", f"## {FIGURES['learning_curves.png']}", "",
                  "![Learning curves](learning_curves.png)", "", *_history_table(history)]
    lines += evaluation_report.report_sections(
        evaluation, {name[:-len(".png")]: name for name in figures}, class_names,
        model=f"{title}/{MODEL_FILE}")
    files = [MODEL_FILE, CONFIG_FILE, HISTORY_FILE, METRICS_FILE, *figures]
    lines += ["", "## Files", "", *[f"- [`{name}`]({name})" for name in files], ""]
    return "\n".join(lines)


def _history_table(history) -> list[str]:
    lines = ["| epoch | train loss | train accuracy | validation loss | validation accuracy "
             "| learning rate | seconds |", "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for epoch in range(history.epochs_run):
        val_loss = history.val_loss[epoch]
        lines.append(
            f"| {epoch + 1} | {history.train_loss[epoch]:.4f} "
            f"| {percent(history.train_accuracy[epoch], missing='')} "
            f"| {'' if not np.isfinite(val_loss) else f'{val_loss:.4f}'} "
            f"| {percent(history.val_accuracy[epoch], missing='')} | {history.lr[epoch]:.4g} "
            f"| {history.seconds[epoch]:.2f} |"
        )
    return lines


def model_file(path) -> Path:
    """The `model.npz` that `path` names: the file itself, or the one in a run folder."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
        if not path.is_file():
            raise FileNotFoundError(2, "no model.npz in this folder (not a finished run)",
                                    str(path.parent))
    elif not path.is_file():
        raise FileNotFoundError(2, "no such model file or run folder", str(path))
    return path


def read_run_config(folder) -> RunConfig:
    """The `RunConfig` in `folder/config.json`; errors name the file."""
    config_path = Path(folder) / CONFIG_FILE
    if not config_path.is_file():
        raise ValueError(
            f"run: {str(Path(folder))!r} has no {CONFIG_FILE}, so its model is unknown; give "
            "a run folder written by 'tinygrad-mnist train' (or its model.npz)"
        )
    try:
        config = RunConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"config: {str(config_path)!r} is not valid JSON ({error})") from None
    except RecursionError:
        raise ValueError(f"config: {str(config_path)!r} is nested too deeply to be a run "
                         "configuration") from None
    except (TypeError, ValueError) as error:
        raise ValueError(f"config: {str(config_path)!r} is not a run configuration: {error}") \
            from None
    return config


def run_class_names(model_path, num_classes: int | None = None) -> list[str] | None:
    """The class names the run's `metrics.json` records (None when there is none).

    With `num_classes` (the model's outputs), a list of another length is a ValueError
    naming the file.
    """
    path = model_file(model_path).with_name(METRICS_FILE)
    try:
        names = json.loads(path.read_text(encoding="utf-8")).get("class_names")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(names, list):
        return None
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(f"metrics: {str(path)!r} names {len(names)} classes, but the model "
                         f"scores {num_classes}; the file does not belong to this model")
    return [str(name) for name in names]


def load_run_model(model_path):
    """The model of a run and its `RunConfig`, read from `config.json` beside it.

    `model_path` is a `model.npz` or the run folder holding one. Only the model is
    built (no optimizer, no `Trainer`), for the input shape and classes the run
    recorded (`run_model_shapes`). Errors name the file: a missing model, a missing or
    invalid `config.json`, or weights that do not fit the architecture it describes.
    """
    model_path = model_file(model_path)
    config = read_run_config(model_path.parent)
    input_shape, num_classes = run_model_shapes(model_path, config)
    try:
        model = config.build_model(input_shape, num_classes)
    except ValueError as error:  # e.g. layers too large for this machine
        raise ValueError(f"config: {str(model_path.with_name(CONFIG_FILE))!r}: {error}") \
            from None
    try:
        model.load(model_path)
    except ValueError as error:
        raise ValueError(
            f"model: {str(model_path)!r} does not match its {CONFIG_FILE}: {error}"
        ) from None
    _check_weights(model, model_path)
    run_class_names(model_path, num_classes)  # a metrics.json that does not fit: refused now
    return model, config


def run_model_shapes(model_path, config: RunConfig) -> tuple[tuple[int, ...], int]:
    """`(input_shape, num_classes)` of the model a run saved: from its `model.json`, or, for
    a run written before runs recorded them, derived from the shapes of its weights (read
    from the `.npz` headers alone, so a file that does not fit is refused before any array
    is decompressed)."""
    from tinygrad_mnist.utils.checks import check_positive_int, check_shape

    model_path = model_file(model_path)
    path = model_path.with_name(MODEL_SHAPES_FILE)
    if not path.exists():
        return _derived_shapes(model_path, config)
    try:
        shapes = json.loads(path.read_text(encoding="utf-8"))
        return (check_shape("input_shape", shapes["input_shape"], "model"),
                check_positive_int("num_classes", shapes["num_classes"], "model"))
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"model: {str(path)!r} is not the model's input shape and classes "
                         f"({_error_text(error)})") from None


def _error_text(error: BaseException) -> str:
    return f"no {error}" if isinstance(error, KeyError) else str(error)


def _derived_shapes(model_path: Path, config: RunConfig) -> tuple[tuple[int, ...], int]:
    """What `model.json` would say, from the weights' shapes and `config` (older runs)."""
    from tinygrad_mnist.utils.npz import npz_headers

    declared = npz_headers(model_path)
    first = declared.get("0.weight")
    if first is not None and len(first[0]) == 4:  # a convolution's kernels come first
        return _cnn_shapes(declared, config, model_path)
    weights = _layer_weights(declared, model_path)
    return (weights[0][1][0],), weights[-1][1][1]


def _check_weights(model, path: Path) -> None:
    """Refuse weights that are not finite, and a negative batch-norm variance, naming the
    array: a `DivergedModelError` when the run's history says its training diverged, else a
    ValueError (the file is damaged)."""
    for name, array in model.state_dict().items():
        if not np.isfinite(array).all():
            what = f"array {name!r} holds {'NaN' if np.isnan(array).any() else 'infinite'} values"
        elif name.endswith("running_var") and (array < 0).any():
            what = f"array {name!r} (a batch-norm variance) holds negative values"
        else:
            continue
        if _history_diverged(path.parent):
            raise DivergedModelError(
                f"diverged: the model {str(path)!r} diverged in training ({what}), so it has "
                "no accuracy and nothing to predict or export; train it again with a smaller "
                "--lr")
        raise ValueError(f"model: {str(path)!r} is damaged: {what}")


def _history_diverged(folder: Path) -> bool:
    """Whether the run's history.json or metrics.json says that its training diverged."""
    for name, key, value in ((HISTORY_FILE, "stopped_reason", "diverged"),
                             (METRICS_FILE, "diverged", True)):
        try:
            if json.loads((folder / name).read_text(encoding="utf-8")).get(key) == value:
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


def _layer_weights(declared: dict, path: Path) -> list[tuple[int, tuple]]:
    """(layer number, shape) of each 2-D `N.weight` entry, in layer order; others refused."""
    weights = []
    for name, (shape, _) in declared.items():
        number, _, kind = name.partition(".")
        if not (number.isdigit() and kind in ("weight", "bias")):
            raise ValueError(f"model: {str(path)!r} holds {name!r}, which is no MLP parameter "
                             "(expected names like '0.weight' and '0.bias')")
        if kind == "weight" and len(shape) == 2:
            weights.append((int(number), tuple(shape)))
    if not any(number == 0 for number, _ in weights):
        raise ValueError(f"model: {str(path)!r} holds no MLP weights (no 2-D '0.weight')")
    return sorted(weights)


def _cnn_shapes(declared: dict, config: RunConfig, path: Path):
    """`((channels, height, width), classes)` a CNN's weights were made for (square images).

    The first convolution gives the channels; the first Dense layer's inputs, the side of
    the pooled images, which each of the `len(config.channels)` blocks halved, rounding
    down: a side of 3 after 3 blocks came from 24 to 31 pixels. MNIST's 28 when it is one
    of them (3 blocks on 28 pixels leave 3), else the smallest.
    """
    shapes = {name: tuple(shape) for name, (shape, _) in declared.items()}
    first = shapes.get("0.weight")
    numbered = sorted((int(name.partition(".")[0]), shape) for name, shape in shapes.items()
                      if name.partition(".")[0].isdigit() and name.endswith(".weight")
                      and len(shape) == 2)
    if first is None or len(first) != 4 or not numbered:
        raise ValueError(f"model: {str(path)!r} holds no CNN weights (no 4-D '0.weight' and "
                         "Dense weights after it)")
    features = numbered[0][1][0]
    side = math.isqrt(features // config.channels[-1])
    if side * side * config.channels[-1] != features:
        raise ValueError(f"model: {str(path)!r} was not made for square images ("
                         f"{features} features after the convolutions)")
    halvings = 2 ** len(config.channels)
    side = SIDE if SIDE // halvings == side else side * halvings
    return (int(first[1]), side, side), int(numbered[-1][1][1])
