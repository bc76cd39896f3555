"""07 - Compare architectures: how much do width and depth buy, and at what cost?

    python examples/07_compare_architectures.py          (TINYGRAD_MNIST_QUICK=1: quick run)

From one hidden layer of 32 units to two of 512 and 256: each network is trained the
same way (Nesterov SGD, cosine schedule, same epochs and seed), then its parameter
count, training time and test accuracy are printed and drawn, accuracy against size.
"""

from __future__ import annotations

from _quick import QUICK, epochs, load_data, output
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, PercentFormatter

from tinygrad_mnist.data import prepare_images
from tinygrad_mnist.train import build_training

ARCHITECTURES = ([32], [100], [128, 64], [256, 128], [512, 256])


def main() -> None:
    data = load_data()
    x_train, y_train = prepare_images(data.train_images), data.train_labels
    test = (prepare_images(data.test_images), data.test_labels)
    rows = []
    for hidden in ARCHITECTURES[::2] if QUICK else ARCHITECTURES:
        config = {"hidden_sizes": hidden, "activation": "relu", "optimizer": "nesterov",
                  "learning_rate": 0.05, "batch_size": 128, "schedule": "cosine",
                  "epochs": epochs(6)}
        built = build_training(config, seed=0, input_size=784, num_classes=10)
        history = built.trainer.fit((x_train, y_train), epochs=built.epochs)
        rows.append((hidden, built.model.num_parameters(), sum(history.seconds),
                     built.trainer.evaluate(test).accuracy))

    print(f"{'hidden layers':<14} {'parameters':>10} {'seconds':>8} {'test accuracy':>14}")
    for hidden, parameters, seconds, accuracy in rows:
        print(f"{str(hidden):<14} {parameters:>10,} {seconds:>8.1f} {accuracy:>14.2%}")

    figure = Figure(figsize=(6.5, 4), layout="constrained")
    axes = figure.add_subplot()
    sizes = [row[1] for row in rows]
    accuracies = [row[3] for row in rows]
    axes.plot(sizes, accuracies, marker="o")
    for hidden, parameters, _, accuracy in rows:
        axes.annotate(str(hidden), (parameters, accuracy), textcoords="offset points",
                      xytext=(4, -12), fontsize=8)
    axes.set(xscale="log", xlabel="parameters (log scale)", ylabel="test accuracy",
             title="Test accuracy against network size")
    axes.set_xticks(sizes, [f"{size / 1000:.0f}k" for size in sizes])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.grid(alpha=0.3)
    figure.savefig(output("07_architectures.png"), dpi=120)
    print(f"chart: {output('07_architectures.png')}")


if __name__ == "__main__":
    main()
