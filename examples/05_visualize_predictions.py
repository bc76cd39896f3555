"""05 - Look at what a model does: predictions, mistakes, confusion matrix, true vs predicted.

    python examples/05_visualize_predictions.py          (TINYGRAD_MNIST_QUICK=1: quick run)

A model is trained with `Trainer`, then drawn four ways, each a PNG: a grid of test
images with the true and predicted labels (mistakes framed in red, the model's
confidence under each), the same grid of mistakes only, the confusion matrix, and
the seed project's "true vs predicted" bars with each digit's accuracy.
"""

from __future__ import annotations

import numpy as np
from _quick import epochs, load_data, output

from tinygrad_mnist import nn, optim
from tinygrad_mnist.data import prepare_images
from tinygrad_mnist.train import Trainer, confusion_matrix
from tinygrad_mnist.viz import plot_confusion_matrix, plot_predictions, plot_true_vs_predicted


def main() -> None:
    data = load_data()
    x_test = prepare_images(data.test_images)
    model = nn.MLP(784, [128], 10, activation="relu", seed=0)
    trainer = Trainer(model, nn.CrossEntropyLoss(),
                      optim.SGD(model.parameters(), lr=0.1, momentum=0.9), batch_size=128, seed=0)
    trainer.fit((prepare_images(data.train_images), data.train_labels), epochs=epochs(5))

    probabilities = trainer.predict_proba(x_test)
    predicted, true = probabilities.argmax(axis=1), data.test_labels
    print(f"test accuracy {np.mean(predicted == true):.2%}")

    plot_predictions(data.test_images, true, predicted, n=36, probabilities=probabilities,
                     path=output("05_predictions.png"))
    wrong = np.flatnonzero(predicted != true)
    if len(wrong):
        plot_predictions(data.test_images[wrong], true[wrong], predicted[wrong],
                         n=min(25, len(wrong)), probabilities=probabilities[wrong],
                         title="Mistakes", path=output("05_mistakes.png"))
    plot_confusion_matrix(confusion_matrix(true, predicted), path=output("05_confusion.png"))
    plot_true_vs_predicted(true, predicted, path=output("05_true_vs_predicted.png"))
    print(f"{len(wrong)} mistakes; figures in {output('05_predictions.png').parent}/")


if __name__ == "__main__":
    main()
