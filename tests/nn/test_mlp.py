"""MLP structure and fitting; constructor arguments checked with clear errors."""

import numpy as np
import pytest

from tinygrad_mnist import nn, optim


def test_mlp_is_a_sequential_with_a_linear_output():
    model = nn.MLP(784, [128, 64], 10, activation="tanh")
    assert isinstance(model, nn.Sequential)
    assert [type(layer) for layer in model] == [nn.Dense, nn.Dense, nn.Dense]
    assert [type(layer.activation) for layer in model] == [nn.Tanh, nn.Tanh, type(None)]
    assert model.num_parameters() == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    assert model(np.zeros((3, 784), dtype=np.float32)).shape == (3, 10)
    assert len(nn.MLP(4, [], 2)) == 1 and len(nn.MLP(4, 3, 2)) == 2


def test_a_784_128_10_mlp_fits_512_samples_with_sgd():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 784)).astype(np.float32)
    y = rng.integers(0, 10, 512)
    model = nn.MLP(784, [128], 10, seed=0)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    for _ in range(200):
        optimizer.zero_grad()
        logits = model(x)
        loss_fn(logits, y).backward()
        optimizer.step()
        if np.all(logits.data.argmax(axis=1) == y):
            break
    model.eval()
    assert np.all(model(x).data.argmax(axis=1) == y)


@pytest.mark.parametrize("build, error, message", [
    (lambda: nn.Dense(0, 5), ValueError, "Dense: in_features must be a positive int, got 0"),
    (lambda: nn.Dense(5, -1), ValueError, "Dense: out_features must be a positive int, got -1"),
    (lambda: nn.Dense(2.5, 3), TypeError, "Dense: in_features must be a positive int, got 2.5"),
    (lambda: nn.Dropout(1.5), ValueError, r"Dropout: p must be a probability in \[0, 1\), got 1.5"),
    (lambda: nn.Dropout(-0.1), ValueError, "Dropout: p must be a probability"),
    (lambda: nn.Dropout("half"), TypeError, "Dropout: p must be a number"),
    (lambda: nn.MLP(0, [3], 2), ValueError, "MLP: input_size must be a positive int, got 0"),
    (lambda: nn.MLP(4, [3, 0], 2), ValueError, r"MLP: hidden_sizes\[1\] must be a positive int"),
    (lambda: nn.MLP(4, [3], 0), ValueError, "MLP: output_size must be a positive int"),
    (lambda: nn.MLP(4, None, 2), TypeError, "MLP: hidden_sizes must be a list"),
    (lambda: nn.MLP(4, [3], 2, activation="swish"), ValueError, "activation: unknown name"),
])
def test_bad_constructor_arguments_are_named(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_dense_names_the_expected_feature_count_for_a_wrong_input():
    with pytest.raises(ValueError, match="Dense expects inputs whose last axis has 3 features"):
        nn.Dense(3, 2)(np.zeros((4, 5)))
