"""A new layer for tinygrad_mnist: BatchNorm1d, used in a model and trained a few steps.

    python examples/custom_layer.py

Batch normalisation rescales each feature to zero mean and unit variance over the
batch, then applies a learned scale (`weight`) and shift (`bias`). In training it
uses the batch's statistics and keeps running averages of them; in evaluation it
uses those running averages, so one sample's output does not depend on the others.
"""

from __future__ import annotations

import numpy as np

from tinygrad_mnist import Function, Tensor, nn, optim
from tinygrad_mnist.testing import assert_gradients_match


class BatchNormFunction(Function):
    """Training-mode batch norm over axis 0: `weight * (x - mean) / std + bias`, one node."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean, variance, eps):
        # `mean` and `variance` are x's own batch statistics, computed by the layer
        # (which also needs them for its running averages) and passed in as parameters.
        inverse_std = 1 / np.sqrt(variance + eps)
        normalised = (x - mean) * inverse_std
        ctx.save_for_backward(normalised, inverse_std, weight)
        return normalised * weight + bias

    @staticmethod
    def backward(ctx, grad):
        normalised, inverse_std, weight = ctx.saved_tensors
        grad_bias = grad.sum(axis=0)
        grad_weight = (grad * normalised).sum(axis=0)
        # Every sample moves the mean and the variance, hence the two correction terms.
        grad_x = (weight * inverse_std) * (
            grad - grad_bias / len(grad) - normalised * (grad_weight / len(grad)))
        return grad_x, grad_weight, grad_bias


class BatchNorm1d(nn.Layer):
    """Normalise each of `num_features` features over the batch; inputs `(batch, features)`."""

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5,
                 dtype=np.float32):
        if not isinstance(num_features, int) or num_features <= 0:
            raise ValueError(f"BatchNorm1d: num_features must be a positive int, got "
                             f"{num_features!r}")
        if not 0 < momentum <= 1:
            raise ValueError(f"BatchNorm1d: momentum must be in (0, 1], got {momentum!r}")
        self.num_features, self.momentum, self.eps = num_features, momentum, eps
        # Tensor attributes are parameters: the optimizer trains them, save() stores them.
        self.weight = Tensor(np.ones(num_features, dtype=dtype), requires_grad=True)
        self.bias = Tensor(np.zeros(num_features, dtype=dtype), requires_grad=True)
        # Buffers are saved and loaded too, but not trained.
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: expected input of shape (batch, "
                             f"{self.num_features}), got {x.shape}")
        if not self.training:
            # Fixed statistics: an affine map, composed from built-in ops (gradient for free).
            scale = self.weight * (1 / np.sqrt(self.running_var + self.eps))
            return x * scale + (self.bias - scale * self.running_mean)
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        mean, variance = data.mean(axis=0), data.var(axis=0)
        self.running_mean += self.momentum * (mean - self.running_mean)
        self.running_var += self.momentum * (variance - self.running_var)
        return BatchNormFunction.apply(x, self.weight, self.bias, mean=mean, variance=variance,
                                       eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}"


def make_data(n: int, seed: int = 0):
    """Three classes of 20-feature points whose features have very different scales."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = rng.normal(size=(3, 20))
    scales = np.logspace(-2, 2, 20)  # features from 0.01 to 100: batch norm evens them out
    x = (centres[labels] + 0.5 * rng.normal(size=(n, 20))) * scales
    return x.astype(np.float32), labels


def main() -> None:
    model = nn.Sequential(nn.Dense(20, 32, seed=0), BatchNorm1d(32), nn.ReLU(),
                          nn.Dense(32, 3, seed=1))
    print(model)
    x_all, y_all = make_data(512)
    x, y, x_test, y_test = x_all[:256], y_all[:256], x_all[256:], y_all[256:]
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    for step in range(1, 31):
        optimizer.zero_grad()
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        optimizer.step()
        if step % 10 == 0 or step == 1:
            accuracy = (logits.data.argmax(axis=1) == y).mean()
            print(f"step {step:2d}  loss {loss.item():.4f}  training accuracy {accuracy:.3f}")

    model.eval()  # running statistics from here on
    test_accuracy = (model(x_test).data.argmax(axis=1) == y_test).mean()
    print(f"held-out accuracy (eval mode, running statistics): {test_accuracy:.3f}")
    print("running mean of the first 4 features:", model[1].running_mean[:4])

    # The layer's gradients, inputs and parameters, against central differences in float64.
    layer = BatchNorm1d(4).astype(np.float64)
    layer.weight.data[:] = [0.5, 1.5, -1.0, 2.0]
    batch = Tensor(np.random.default_rng(2).normal(size=(6, 4)), requires_grad=True)
    assert_gradients_match(layer, batch, wrt=layer.parameters())
    print("gradcheck: BatchNorm1d matches central differences (training mode)")


if __name__ == "__main__":
    main()
