"""02 - Holdout validation: train on 80% of the training set, validate on the other 20%.

    python examples/02_holdout.py          (TINYGRAD_MNIST_QUICK=1 for a quick run)

The seed project's holdout screening, with early stopping: one configuration (a plain
dict, the same vocabulary as experiment files) is trained on a stratified 80% split,
the validation loss is watched after every epoch, and training stops once it has not
improved for `patience` epochs, keeping the best epoch's weights. The learning curves,
with that epoch marked, are saved as a PNG.
"""

from __future__ import annotations

from _quick import epochs, load_data, output

from tinygrad_mnist.data import prepare_images
from tinygrad_mnist.train import holdout
from tinygrad_mnist.viz import plot_learning_curves


def main() -> None:
    data = load_data()
    train = (prepare_images(data.train_images), data.train_labels)
    test = (prepare_images(data.test_images), data.test_labels)
    config = {
        "hidden_sizes": [128, 64],
        "activation": "relu",
        "optimizer": "nesterov",     # SGD with Nesterov momentum 0.9
        "learning_rate": 0.05,
        "batch_size": 128,           # "full" trains full-batch, as the seed did
        "epochs": epochs(20, quick=4),
        "patience": 3,               # early stopping on the validation loss
    }
    result = holdout(config, train, train_fraction=0.8, seed=0, test=test)

    history, metrics = result.history, result.metrics
    print(f"stopped: {history.stopped_reason} after {history.epochs_run} epochs; "
          f"best epoch {history.best_epoch}")
    print(f"validation accuracy {metrics['val_accuracy']:.2%}, "
          f"test accuracy {metrics['test_accuracy']:.2%}")
    path = output("02_learning_curves.png")
    plot_learning_curves(history, path=path)
    print(f"learning curves: {path}")


if __name__ == "__main__":
    main()
