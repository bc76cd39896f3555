"""04 - A custom experiment: a grid search saved to a result store, resumed, exported.

    python examples/04_custom_experiment.py          (TINYGRAD_MNIST_QUICK=1 for a quick run)

The search space is a dict of lists; its Cartesian product is screened on a holdout
split, the best configurations go through k-fold, and the winner is scored on the
test set. Every finished trial is committed to a SQLite store at once, so running the
same search again (after a crash, Ctrl-C, or on purpose, as here) trains nothing that
is already stored. The store is then exported (JSON, CSV, Markdown) and drawn as a
heat map. `tinygrad-mnist search FILE.toml` does the same from an experiment file.
"""

from __future__ import annotations

import time

from _quick import QUICK, epochs, load_data, output

from tinygrad_mnist.data import prepare_images
from tinygrad_mnist.experiments import (
    ResultStore,
    export_csv,
    export_json,
    export_markdown,
    grid_search,
)
from tinygrad_mnist.viz import plot_search_heatmap


def main() -> None:
    data = load_data()
    train = (prepare_images(data.train_images), data.train_labels)
    test = (prepare_images(data.test_images), data.test_labels)
    space = {
        "hidden_sizes": [[64], [128, 64]],
        "activation": ["tanh", "relu"],
        "learning_rate": [0.02, 0.1],
        "optimizer": ["momentum"],
        "batch_size": [128],
        "epochs": [epochs(6)],
    }
    store = output("04_search.sqlite")
    settings = {"store": store, "test": test, "seed": 0, "top_n": 2, "k": 3,
                "n_jobs": 1 if QUICK else 2}
    for attempt in ("first run", "second run"):
        start = time.perf_counter()
        result = grid_search(space, train, **settings)
        print(f"{attempt}: {time.perf_counter() - start:.1f} s")  # the second finds it all stored

    best = result.best_config
    print(f"winner: hidden {best['hidden_sizes']}, {best['activation']}, "
          f"learning rate {best['learning_rate']}: test accuracy {result.test_accuracy:.2%}")
    for kind, export in (("json", export_json), ("csv", export_csv), ("md", export_markdown)):
        export(store, output(f"04_results.{kind}"))
    with ResultStore(store) as opened:
        rows = opened.rows(phase="holdout")
    plot_search_heatmap(rows, path=output("04_heatmap.png"))
    print(f"{len(rows)} holdout trials in {store}; exports and heat map in {store.parent}")


if __name__ == "__main__":
    main()
