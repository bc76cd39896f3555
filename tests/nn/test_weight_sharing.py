"""Tied weights: one layer used twice is one set of parameters, trained by the sum of both uses."""

import numpy as np
import pytest

from tinygrad_mnist import Tensor, nn, optim


def tied_model(seed=0):
    d = nn.Dense(3, 3, seed=seed)
    return nn.Sequential(d, nn.Tanh(), d), d


class TiedTwice(nn.Layer):
    """The same tensor reached under two attribute names, and a shared sub-layer."""

    def __init__(self):
        self.block = nn.Dense(2, 2, seed=0)
        self.again = self.block
        self.scale = Tensor(np.array([1.5]), requires_grad=True)
        self.same_scale = self.scale

    def forward(self, x):
        return self.again(self.block(x)) * self.same_scale


def test_parameters_list_each_tensor_once_under_its_first_name():
    model, d = tied_model()
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert model.parameters() == [d.weight, d.bias]
    assert model.num_parameters() == 3 * 3 + 3
    layer = TiedTwice()
    assert [name for name, _ in layer.named_parameters()] == ["scale", "block.weight",
                                                              "block.bias"]


def test_state_dict_save_and_load_round_trip_a_tied_model(tmp_path):
    model, _ = tied_model(seed=0)
    assert sorted(model.state_dict()) == ["0.bias", "0.weight"]
    model.save(tmp_path / "tied.npz")
    fresh, fresh_d = tied_model(seed=1)
    fresh.load(tmp_path / "tied.npz")
    x = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_array_equal(fresh(x).data, model(x).data)
    assert fresh[0] is fresh[2] is fresh_d  # still tied after loading


def test_the_gradient_of_a_tied_weight_is_the_sum_of_both_uses():
    model, d = tied_model()
    model.astype(np.float64)
    x = np.random.default_rng(0).normal(size=(4, 3))
    model(x).sum().backward()
    # By hand: h = tanh(x W + b), y = h W + b, loss = sum(y).
    w, b = d.weight.data, d.bias.data
    h = np.tanh(x @ w + b)
    upstream = np.ones((4, 3))
    grad_w_second = h.T @ upstream
    grad_h = upstream @ w.T
    grad_pre = grad_h * (1 - h * h)
    grad_w_first = x.T @ grad_pre
    np.testing.assert_allclose(d.weight.grad, grad_w_first + grad_w_second, rtol=1e-12)
    np.testing.assert_allclose(d.bias.grad, grad_pre.sum(0) + upstream.sum(0), rtol=1e-12)


@pytest.mark.parametrize("make_optimizer", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.05),
], ids=["SGD", "Adam"])
def test_a_tied_model_trains(make_optimizer):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3))
    target = np.tanh(x @ rng.normal(size=(3, 3)))
    model, d = tied_model()
    model.astype(np.float64)
    optimizer = make_optimizer(model.parameters())
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert model[0].weight is model[2].weight is d.weight


def test_optimizers_still_refuse_a_tensor_listed_twice_by_hand():
    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="same Tensor more than once"):
        optim.SGD([w, w], lr=0.1)
