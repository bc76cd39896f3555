"""03 - Stratified k-fold cross-validation: how much does the score depend on the split?

    python examples/03_kfold.py          (TINYGRAD_MNIST_QUICK=1 for a quick run)

The training set is cut into k folds that each keep every digit's share; k models
are trained, each validated on the fold it did not see. The spread of their scores
says how far one holdout figure can be trusted. The best fold's model is then scored
on the test set, as the seed project did for its top configurations.
"""

from __future__ import annotations

from _quick import QUICK, epochs, load_data

from tinygrad_mnist.data import prepare_images
from tinygrad_mnist.train import kfold


def main() -> None:
    data = load_data()
    train = (prepare_images(data.train_images), data.train_labels)
    test = (prepare_images(data.test_images), data.test_labels)
    config = {"hidden_sizes": [100], "activation": "tanh", "optimizer": "momentum",
              "learning_rate": 0.05, "batch_size": 128, "epochs": epochs(5)}
    k = 3 if QUICK else 5
    result = kfold(config, train, k=k, seed=0, test=test)

    print("fold  validation accuracy  validation loss  epochs  seconds")
    for i, fold in enumerate(result.folds, 1):
        m = fold.metrics
        print(f"{i:>4}  {m['val_accuracy']:>19.2%}  {m['val_loss']:>15.4f}  "
              f"{m['epochs_run']:>6}  {m['seconds']:>7.1f}")
    mean, std = result.mean, result.std
    print(f"mean validation accuracy {mean['val_accuracy']:.2%} ± {std['val_accuracy']:.2%}")
    best = result.folds[result.best_fold]
    print(f"best fold: {result.best_fold + 1}; its model scores "
          f"{best.metrics['test_accuracy']:.2%} on the test set")


if __name__ == "__main__":
    main()
