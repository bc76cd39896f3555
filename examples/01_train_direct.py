"""01 - Train a network directly: a model, a loss, an optimizer and a loop you can read.

    python examples/01_train_direct.py          (TINYGRAD_MNIST_QUICK=1 for a quick run)

The seed project's first use: build `MLP(784, [128, 64], 10)`, train it with
mini-batch SGD, score it on the test set after each epoch, then save it and load it
back. The loop is written out by hand, so each step (forward, loss, backward, update)
is in view; `Trainer` (the next examples) runs the same loop with callbacks and a
`History`.
"""

from __future__ import annotations

import numpy as np
from _quick import epochs, load_data, output

from tinygrad_mnist import Tensor, nn, no_grad, optim
from tinygrad_mnist.data import batches, prepare_images


def accuracy(model, x, y) -> float:
    """The share of `x` that `model` labels as `y` (no graph is built)."""
    model.eval()
    with no_grad():
        predictions = model(Tensor(x)).data.argmax(axis=1)
    model.train()
    return float(np.mean(predictions == y))


def main() -> None:
    data = load_data()
    x_train, y_train = prepare_images(data.train_images), data.train_labels
    x_test, y_test = prepare_images(data.test_images), data.test_labels

    model = nn.MLP(784, [128, 64], 10, activation="relu", seed=0)
    loss_function = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)  # shuffles the batches; never NumPy's global state
    print(model)

    for epoch in range(1, epochs(5) + 1):
        total = 0.0
        for index in batches(len(x_train), 128, rng=rng):
            logits = model(Tensor(x_train[index]))          # forward: builds the graph
            loss = loss_function(logits, y_train[index])    # mean cross-entropy, a scalar
            optimizer.zero_grad()
            loss.backward()                                 # fills every parameter's .grad
            optimizer.step()                                # p -= lr * velocity
            total += float(loss.data) * len(index)
        print(f"epoch {epoch}: training loss {total / len(x_train):.4f}, "
              f"test accuracy {accuracy(model, x_test, y_test):.2%}")

    path = output("01_model.npz")
    model.save(path)
    restored = nn.MLP(784, [128, 64], 10, activation="relu").load(path)
    assert accuracy(restored, x_test, y_test) == accuracy(model, x_test, y_test)
    print(f"saved to {path} and loaded back: the same predictions")


if __name__ == "__main__":
    main()
