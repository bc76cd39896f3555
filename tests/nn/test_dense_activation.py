"""`Dense(..., activation=...)`: the fused Dense+ReLU as an explicit, visible op that MLP uses."""

import numpy as np
import pytest

from tinygrad_mnist import Tensor, graph_text, nn, no_grad, ops


def test_dense_with_relu_is_one_fused_op_visible_in_repr_and_graph():
    layer = nn.Dense(3, 2, seed=0, activation="relu")
    out = layer(np.ones((4, 3), dtype=np.float32))
    assert out.op is nn.AffineReLU and np.all(out.data >= 0)
    assert repr(layer) == "Dense(3 -> 2, bias=True, activation=ReLU())  [8 parameters]"
    assert graph_text(out).splitlines()[0].startswith("AffineReLU (4, 2) float32")
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert list(layer.named_modules()) == [("", layer)]


@pytest.mark.parametrize("activation", [None, "identity", "linear", nn.Identity()])
def test_dense_without_an_activation_is_the_plain_affine_op(activation):
    layer = nn.Dense(3, 2, seed=0, activation=activation)
    assert layer.activation is None
    assert layer(np.ones((1, 3))).op is nn.Affine
    assert "activation" not in repr(layer)


def test_dense_with_another_activation_applies_it_after_the_product():
    layer = nn.Dense(3, 2, seed=0, activation="tanh")
    out = layer(np.ones((1, 3)))
    assert out.op is ops.Tanh and out.inputs[0].op is nn.Affine
    slope = nn.Dense(3, 2, seed=0, activation=nn.LeakyReLU(0.2))
    assert "activation=LeakyReLU(negative_slope=0.2)" in repr(slope)


def test_an_activation_with_parameters_is_refused():
    class Scaled(nn.Activation):
        def __init__(self):
            self.scale = Tensor(np.ones(1), requires_grad=True)

        def forward(self, x):
            return x * self.scale

    with pytest.raises(ValueError, match="has parameters of its own"):
        nn.Dense(3, 2, activation=Scaled())
    with pytest.raises(ValueError, match="activation: unknown name 'swish'"):
        nn.Dense(3, 2, activation="swish")


def test_mlp_and_the_equivalent_sequential_compute_the_same_graph():
    mlp = nn.MLP(5, [4, 3], 2, seed=0)
    sequential = nn.Sequential(nn.Dense(5, 4, activation="relu"),
                               nn.Dense(4, 3, activation="relu"), nn.Dense(3, 2))
    with no_grad():  # parameters change in place only outside the graph (as in PyTorch)
        for (_, a), (_, b) in zip(mlp.named_parameters(), sequential.named_parameters()):
            b.copy_(a.data)
    x = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    out_mlp, out_sequential = mlp(x), sequential(x)
    assert graph_text(out_mlp) == graph_text(out_sequential)
    assert [line.split()[0] for line in graph_text(out_mlp).splitlines()][:3] == [
        "Affine", "AffineReLU", "AffineReLU"]
    np.testing.assert_array_equal(out_mlp.data, out_sequential.data)


def test_an_mlp_keeps_the_state_names_of_models_saved_with_separate_activations(tmp_path):
    # What an MLP was before the fusion became explicit: Dense, ReLU, Dense, ReLU, Dense.
    before = nn.Sequential(nn.Dense(5, 4, seed=1), nn.ReLU(), nn.Dense(4, 3, seed=2), nn.ReLU(),
                           nn.Dense(3, 2, seed=3))
    before.save(tmp_path / "model.npz")
    mlp = nn.MLP(5, [4, 3], 2, seed=0)
    assert list(mlp.state_dict()) == list(before.state_dict()) == [
        "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    mlp.load(tmp_path / "model.npz")
    x = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    np.testing.assert_array_equal(mlp(x).data, before(x).data)
    assert [name for name, _ in mlp.named_children()] == ["0", "2", "4"]
