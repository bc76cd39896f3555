"""Every layer and loss matches central differences (float64), for inputs and parameters."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist import Tensor, nn
from tinygrad_mnist.testing import assert_gradients_match, tensors, well_conditioned

sides = st.integers(1, 4)
seeds = st.integers(0, 2**32 - 1)


@given(sides, sides, sides, st.booleans(), seeds, st.data())
def test_dense_gradients(batch, in_features, out_features, bias, seed, data):
    layer = nn.Dense(in_features, out_features, bias=bias, seed=seed).astype(np.float64)
    # Leading axes beyond the batch are allowed: (..., in_features).
    lead = data.draw(st.sampled_from([(batch,), (2, batch), ()]))
    x = data.draw(tensors(shape=(*lead, in_features)))
    assert_gradients_match(layer, x, wrt=layer.parameters())


@given(st.sampled_from(["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]),
       tensors(shape=st.tuples(sides, sides)))
def test_activation_gradients(name, x):
    assert_gradients_match(nn.get_activation(name), x)


@given(st.floats(-2, 2), tensors())
def test_leaky_relu_gradient_for_any_slope(slope, x):
    assert_gradients_match(nn.LeakyReLU(slope), x)


@given(st.integers(0, 2), tensors(shape=st.tuples(sides, sides, sides)))
def test_softmax_gradient_along_any_axis(axis, x):
    assert_gradients_match(nn.Softmax(axis=axis), x)


@given(st.floats(0, 0.9), seeds, tensors(shape=st.tuples(sides, sides)))
def test_dropout_gradient_with_a_fixed_mask(p, seed, x):
    # A fresh layer with the same seed draws the same mask on every call.
    assert_gradients_match(lambda t: nn.Dropout(p, seed=seed)(t), x)


@given(tensors(shape=st.tuples(sides, sides, sides)))
def test_flatten_gradient(x):
    assert_gradients_match(nn.Flatten(), x)


@given(sides, st.lists(sides, min_size=0, max_size=2), sides,
       st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu"]), seeds, st.data())
def test_mlp_gradients(input_size, hidden, output_size, activation, seed, data):
    model = nn.MLP(input_size, hidden, output_size, activation=activation, seed=seed)
    model.astype(np.float64)
    # Zero biases would put a dead ReLU's successor exactly on the kink at 0.
    for i, dense in enumerate(model):
        dense.bias.data[:] = well_conditioned(dense.bias.shape, seed=seed + i)
    x = data.draw(tensors(shape=(3, input_size)))
    assert_gradients_match(model, x, wrt=model.parameters())


@given(sides, st.integers(2, 5), st.sampled_from(["mean", "sum"]), seeds, st.data())
def test_cross_entropy_gradient_with_labels(batch, classes, reduction, seed, data):
    logits = data.draw(tensors(shape=(batch, classes), low=-5, high=5))
    labels = np.random.default_rng(seed).integers(0, classes, batch)
    loss = nn.CrossEntropyLoss(reduction)
    assert_gradients_match(lambda t: loss(t, labels), logits)


@given(sides, st.integers(2, 5), st.sampled_from(["mean", "sum"]), seeds, st.data())
def test_cross_entropy_gradient_with_probability_rows(batch, classes, reduction, seed, data):
    logits = data.draw(tensors(shape=(batch, classes), low=-5, high=5))
    rows = well_conditioned((batch, classes), 0.1, 1.0, seed)
    # Both the logits and the target rows are checked (soft targets have a gradient too).
    target = Tensor(rows / rows.sum(axis=1, keepdims=True), requires_grad=True)
    loss = nn.CrossEntropyLoss(reduction)
    assert_gradients_match(loss, logits, target)


@given(sides, sides, seeds, st.data())
def test_cross_entropy_gradient_with_one_hot_rows(batch, classes, seed, data):
    logits = data.draw(tensors(shape=(batch, classes)))
    one_hot = np.eye(classes)[np.random.default_rng(seed).integers(0, classes, batch)]
    loss = nn.CrossEntropyLoss()
    assert_gradients_match(lambda t: loss(t, one_hot), logits)


@given(st.sampled_from(["mean", "sum"]), st.data())
def test_mse_gradients(reduction, data):
    prediction = data.draw(tensors(shape=st.tuples(sides, sides)))
    target = data.draw(tensors(shape=prediction.shape))
    assert_gradients_match(nn.MSELoss(reduction), prediction, target)


@given(seeds, st.data())
def test_a_composed_network_with_every_layer_kind(seed, data):
    model = nn.Sequential(
        nn.Flatten(), nn.Dense(6, 4, seed=seed), nn.Tanh(), nn.Dropout(0.3, seed=seed),
        nn.Dense(4, 3, bias=False, init="xavier_normal", seed=seed + 1),
    ).astype(np.float64)
    x = data.draw(tensors(shape=(2, 2, 3)))
    labels = np.array([0, 2])
    loss = nn.CrossEntropyLoss()

    def objective(t):
        model[3].rng = np.random.default_rng(seed)  # the same dropout mask each call
        return loss(model(t), labels)

    assert_gradients_match(objective, x, wrt=model.parameters())
