"""The models and test-set scores the studio keeps in memory between requests.

Loading a model takes milliseconds and scoring a test set up to seconds (a CNN on
10,000 images), while a user drawing sends several requests a second: both are kept,
keyed by the model file's path, size and modification time, so a run that is trained
again (`train --resume`) is loaded afresh. Only a few of each are kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from tinygrad_mnist.app import run_folder
from tinygrad_mnist.app.studio.model_view import ModelView
from tinygrad_mnist.app.studio.runs import RunsDirectory, StudioError

MODELS_KEPT = 8
EVALUATIONS_KEPT = 4
DATASETS_KEPT = 2


class _Recent:
    """A small least-recently-used map, safe to share between request threads."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key, make):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()  # outside the lock: loading one run does not stall the others
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


class RunModels:
    """Each run's model (as a `ModelView`) and its scores on its own data set's test images."""

    def __init__(self, runs: RunsDirectory):
        self.runs = runs
        self._models = _Recent(MODELS_KEPT)
        self._evaluations = _Recent(EVALUATIONS_KEPT)
        self._datasets = _Recent(DATASETS_KEPT)

    def _model_key(self, run_id: str) -> tuple[Path, tuple]:
        folder = self.runs.folder(run_id)
        path = self.runs.file(folder, run_folder.MODEL_FILE)
        if path is None:
            raise StudioError(f"run: {run_id!r} has no model yet (still training, or stopped "
                              "before its first epoch)", 409)
        stat = path.stat()
        return folder, (str(path), stat.st_size, stat.st_mtime_ns)

    def view(self, run_id: str) -> ModelView:
        """The run's model, loaded once."""
        folder, key = self._model_key(run_id)

        def load():
            try:
                model, _ = run_folder.load_run_model(folder)
            except (ValueError, OSError) as error:
                raise StudioError(f"run: {run_id!r}: its model cannot be loaded "
                                  f"({' '.join(str(error).split())})", 409) from None
            return ModelView(model)

        return self._models.get(key, load)

    def evaluation(self, run_id: str) -> dict:
        """`images` (uint8), `labels`, `probabilities` of the run's model on its test set."""
        folder, key = self._model_key(run_id)
        config = run_folder.read_run_config(folder)
        view = self.view(run_id)

        def score():
            from tinygrad_mnist.app.predict import model_inputs
            from tinygrad_mnist.inference import predict_proba

            data = self._dataset(config.dataset)
            try:
                x = model_inputs(view.model, data.test_images, f"the {data.title} test images")
            except ValueError as error:
                raise StudioError(str(error), 409) from None
            with view.lock:
                probabilities = predict_proba(view.model, x)
            return {"images": data.test_images, "labels": np.asarray(data.test_labels),
                    "probabilities": probabilities, "class_names": list(data.class_names)}

        return self._evaluations.get(key, score)

    def _dataset(self, name: str):
        from tinygrad_mnist.data.by_name import load_named_dataset

        def load():
            try:
                # Never a download on a page's behalf: only the cache, or a file.
                return load_named_dataset(name, download=False)
            except (ValueError, OSError) as error:
                raise StudioError(f"dataset: the run's test images ({name}) cannot be read "
                                  f"here ({' '.join(str(error).split())}); 'tinygrad-mnist "
                                  "fetch' fills the cache", 409) from None

        return self._datasets.get(name, load)
