"""Optimizer arguments, zero_grad, state_dict round trips, schedules and gradient clipping."""

import math

import numpy as np
import pytest

from tinygrad_mnist import Tensor, nn, optim


def params():
    return [Tensor(np.ones((2, 2)), requires_grad=True), Tensor(np.zeros(2), requires_grad=True)]


@pytest.mark.parametrize("build, error, message", [
    (lambda: optim.SGD(params(), lr=-1), ValueError, r"SGD: lr must be a number in \(0, inf\), "
                                                     r"got -1"),
    (lambda: optim.SGD(params(), lr="fast"), TypeError, "SGD: lr must be a number"),
    (lambda: optim.SGD(params(), lr=0.1, momentum=-0.5), ValueError, "SGD: momentum must be"),
    (lambda: optim.SGD(params(), lr=0.1, weight_decay=-1), ValueError, "SGD: weight_decay"),
    (lambda: optim.SGD(params(), lr=0.1, nesterov=True), ValueError, "nesterov=True needs a "
                                                                     "momentum"),
    (lambda: optim.SGD([], lr=0.1), ValueError, "SGD: params is an empty list"),
    (lambda: optim.Adam([]), ValueError, "Adam: params is an empty list"),
    (lambda: optim.SGD(nn.ReLU().parameters(), lr=0.1), ValueError, "params is an empty list"),
    (lambda: optim.SGD([np.ones(2)], lr=0.1), TypeError, r"params\[0\] must be a Tensor"),
    (lambda: optim.SGD(5, lr=0.1), TypeError, "params must be a list of Tensors"),
    (lambda: optim.Adam(params(), betas=(1.2, 0.9)), ValueError,
     r"Adam: betas must both lie in \[0, 1\), got \(1.2, 0.9\)"),
    (lambda: optim.AdamW(params(), betas=0.9), ValueError, "AdamW: betas must be a pair"),
    (lambda: optim.Adam(params(), eps=-1e-8), ValueError, "Adam: eps must be"),
    (lambda: optim.Adam(params(), lr=float("nan")), ValueError, "Adam: lr must be"),
])
def test_bad_arguments_are_named(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_the_same_tensor_twice_is_refused():
    p = params()[0]
    with pytest.raises(ValueError, match="the same Tensor more than once"):
        optim.SGD([p, p], lr=0.1)


def test_zero_grad_clears_every_gradient_and_a_generator_is_accepted():
    model = nn.Dense(2, 2)
    optimizer = optim.SGD((p for p in model.parameters()), lr=0.1)
    model(np.ones((1, 2))).sum().backward()
    optimizer.zero_grad()
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.01),
])
def test_state_dict_round_trip_resumes_identically(make, tmp_path):
    def train(optimizer, ps, steps):
        for k in range(steps):
            optimizer.zero_grad()
            for i, p in enumerate(ps):
                p.grad = np.full(p.shape, 0.1 * (k + 1) * (i + 1))
            optimizer.step()

    first_ps = params()
    first = make(first_ps)
    train(first, first_ps, 2)
    path = tmp_path / "optimizer.npz"
    np.savez(path, **first.state_dict())  # plain arrays: savable without pickle
    state = dict(np.load(path, allow_pickle=False))

    second_ps = [Tensor(p.data.copy(), requires_grad=True) for p in first_ps]
    second = make(second_ps)
    second.lr = 123.0
    second.load_state_dict(state)
    assert second.lr == first.lr and second.step_count == 2
    train(first, first_ps, 1)
    train(second, second_ps, 1)
    for a, b in zip(first_ps, second_ps):
        np.testing.assert_array_equal(a.data, b.data)


def test_load_state_dict_names_a_bad_entry():
    optimizer = optim.Adam(params())
    state = optimizer.state_dict()
    state["first_moment.1"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"'first_moment.1' has shape \(5,\), expected \(2,\)"):
        optimizer.load_state_dict(state)
    del state["first_moment.1"]
    with pytest.raises(ValueError, match=r"'first_moment.1' is missing"):
        optimizer.load_state_dict(state)


def test_step_lr_multiplies_by_gamma_every_step_size_epochs():
    optimizer = optim.SGD(params(), lr=1.0)
    schedule = optim.StepLR(optimizer, step_size=2, gamma=0.5)
    rates = [schedule.step() for _ in range(5)]
    assert rates == [1.0, 0.5, 0.5, 0.25, 0.25]
    assert optimizer.lr == 0.25


def test_cosine_lr_goes_from_the_start_rate_to_min_lr_and_stays():
    optimizer = optim.Adam(params(), lr=0.1)
    schedule = optim.CosineLR(optimizer, total_epochs=4, min_lr=0.02)
    rates = [schedule.step() for _ in range(6)]
    expected = [0.02 + 0.08 * (1 + math.cos(math.pi * e / 4)) / 2 for e in (1, 2, 3, 4)]
    np.testing.assert_allclose(rates, expected + [0.02, 0.02])
    assert rates[1] == pytest.approx(0.06)


def test_a_schedule_resumes_from_its_state():
    optimizer = optim.SGD(params(), lr=1.0)
    schedule = optim.CosineLR(optimizer, total_epochs=10)
    for _ in range(3):
        schedule.step()
    other_optimizer = optim.SGD(params(), lr=1.0)
    other = optim.CosineLR(other_optimizer, total_epochs=10).load_state_dict(schedule.state_dict())
    assert other_optimizer.lr == optimizer.lr
    assert other.step() == schedule.step()


@pytest.mark.parametrize("build, message", [
    (lambda o: optim.StepLR(o, step_size=0), "StepLR: step_size must be a positive int, got 0"),
    (lambda o: optim.StepLR(o, step_size=2, gamma=-1), "StepLR: gamma must be"),
    (lambda o: optim.CosineLR(o, total_epochs=0), "CosineLR: total_epochs must be a positive"),
    (lambda o: optim.CosineLR(o, total_epochs=5, min_lr=2.0), r"CosineLR: min_lr must be a "
                                                              r"number in \[0, 1\]"),
])
def test_bad_schedule_arguments_are_named(build, message):
    with pytest.raises(ValueError, match=message):
        build(optim.SGD(params(), lr=1.0))
    with pytest.raises(TypeError, match="optimizer must be an Optimizer"):
        optim.StepLR(params(), step_size=1)


def test_clip_grad_norm_scales_all_gradients_together():
    a, b, idle = params() + [Tensor(np.ones(2), requires_grad=True)]
    a.grad = np.full((2, 2), 3.0)  # norm 6
    b.grad = np.array([8.0, 0.0])  # norm 8: joint norm 10
    total = optim.clip_grad_norm([a, b, idle], max_norm=5.0)
    assert total == pytest.approx(10.0)
    np.testing.assert_allclose(a.grad, np.full((2, 2), 1.5), rtol=1e-6)
    np.testing.assert_allclose(b.grad, [4.0, 0.0], rtol=1e-6)
    assert optim.clip_grad_norm([a, b], max_norm=100.0) == pytest.approx(5.0, rel=1e-6)
    np.testing.assert_allclose(b.grad, [4.0, 0.0], rtol=1e-6)  # under the limit: unchanged


def test_clip_grad_norm_copes_with_huge_float32_gradients_and_checks_max_norm():
    p = Tensor(np.zeros(4, dtype=np.float32), requires_grad=True)
    p.grad = np.full(4, 1e30, dtype=np.float32)
    assert optim.clip_grad_norm([p], max_norm=1.0) == pytest.approx(2e30)
    assert np.linalg.norm(p.grad.astype(np.float64)) == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match="clip_grad_norm: max_norm must be"):
        optim.clip_grad_norm([p], max_norm=-1)
    with pytest.raises(ValueError, match="clip_grad_norm: params is an empty list"):
        optim.clip_grad_norm([], max_norm=1)
