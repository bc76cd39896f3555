"""06 - Compare activations: sigmoid, tanh, ReLU and leaky ReLU on the same network.

    python examples/06_compare_activations.py          (TINYGRAD_MNIST_QUICK=1: quick run)

The seed project compared its activations one run at a time. Here the same
architecture, optimizer, data split and seed are trained once per activation, and
their validation accuracy per epoch is drawn on one chart, so the difference in how
fast each one learns is plain to see. Only the activation changes between runs.
"""

from __future__ import annotations

from _quick import epochs, load_data, output
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from tinygrad_mnist.data import prepare_images
from tinygrad_mnist.train import holdout

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")


def main() -> None:
    data = load_data()
    train = (prepare_images(data.train_images), data.train_labels)
    test = (prepare_images(data.test_images), data.test_labels)
    results = {}
    for activation in ACTIVATIONS:
        config = {"hidden_sizes": [128, 64], "activation": activation, "optimizer": "momentum",
                  "learning_rate": 0.05, "batch_size": 128, "epochs": epochs(8, quick=3)}
        results[activation] = holdout(config, train, train_fraction=0.8, seed=0, test=test)

    print(f"{'activation':<12} {'validation':>10} {'test':>8} {'seconds':>8}")
    for activation, result in results.items():
        m = result.metrics
        print(f"{activation:<12} {m['val_accuracy']:>10.2%} {m['test_accuracy']:>8.2%} "
              f"{m['seconds']:>8.1f}")

    figure = Figure(figsize=(6.5, 4), layout="constrained")
    axes = figure.add_subplot()
    for activation, result in results.items():
        curve = result.history.val_accuracy
        axes.plot(range(1, len(curve) + 1), curve, marker="o", label=activation)
    axes.set(xlabel="epoch", ylabel="validation accuracy",
             title="The same network with four activations")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.legend()
    axes.grid(alpha=0.3)
    figure.savefig(output("06_activations.png"), dpi=120)
    print(f"chart: {output('06_activations.png')}")


if __name__ == "__main__":
    main()
