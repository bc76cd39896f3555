"""In-place changes, views and versions: never a silently wrong gradient (issue 19, 1-4; 23, 8)."""

import numpy as np
import pytest

from tinygrad_mnist import Tensor, nn, no_grad, optim


def _x(values):
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# ------------------------------------------------- 1. saved outputs are version-checked

SAVES_ITS_OUTPUT = {
    "relu": lambda t: t.relu(),
    "exp": lambda t: t.exp(),
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "sqrt": lambda t: t.sqrt(),
    "pow": lambda t: t**2.0,
    "softmax": lambda t: t.softmax(),
}


@pytest.mark.parametrize("name", sorted(SAVES_ITS_OUTPUT))
def test_an_output_changed_in_place_after_it_was_saved_is_refused_at_backward(name):
    x = _x([0.5, 2.0])
    h = SAVES_ITS_OUTPUT[name](x)
    with no_grad():
        h.add_(5.0)
    with pytest.raises(RuntimeError, match="output of .* modified in place"):
        h.sum().backward()


def test_the_issue_example_is_refused_before_it_can_go_wrong():
    x = Tensor([-1.0, 2.0], requires_grad=True)
    h = x.relu()
    with pytest.raises(RuntimeError, match="result of ReLU.*h = h \\+ values|t = t \\+ values"):
        h.add_(5.0)


def test_an_op_that_did_not_save_its_output_does_not_mind_as_in_pytorch():
    x = _x([1.0, 2.0])
    h = x + 1.0
    with no_grad():
        h.mul_(3.0)
    (h * h).sum().backward()  # d/dx of h*h with h = 3(x + 1) computed from the new h: 2h
    np.testing.assert_array_equal(x.grad, 2 * h.data)


# --------------------------------------------- 2. views and detach share the version

def test_detach_shares_the_version_counter():
    w = _x([1.0, 2.0])
    y = (w * w).sum()
    w.detach().add_(10.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


@pytest.mark.parametrize("view", [
    lambda t: t.reshape(4), lambda t: t.T, lambda t: t[0], lambda t: t[:, 1:],
    lambda t: t.detach().reshape(2, 2)[1],
])
def test_a_view_changed_in_place_bumps_the_version_of_its_base(view):
    w = _x([[1.0, 2.0], [3.0, 4.0]])
    y = (w * w).sum()
    with no_grad():
        view(w).add_(1.0)
    assert w.version == 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_a_copy_made_by_advanced_indexing_is_not_a_view():
    w = _x([1.0, 2.0])
    y = (w * w).sum()
    with no_grad():
        w[[0, 0]].add_(1.0)
    assert w.version == 0
    y.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])


def test_tensor_of_a_tensor_shares_its_array_and_version():
    w = _x([1.0, 2.0])
    y = (w * w).sum()
    Tensor(w).add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


# ------------------------------------------- 3. in-place on a graph tensor is refused

@pytest.mark.parametrize("change", [
    lambda h, x: h.add_(x), lambda h, x: h.sub_(1.0), lambda h, x: h.mul_(2.0),
    lambda h, x: h.copy_(np.zeros(2)), lambda h, x: h.div_(2.0),
])
def test_in_place_methods_on_a_result_in_the_graph_are_refused(change):
    x = _x([1.0, 2.0])
    h = x * 2
    with pytest.raises(RuntimeError, match="result of Mul in a graph"):
        change(h, x)
    assert h.version == 0 and h.data.tolist() == [2.0, 4.0]


def test_the_issue_example_h_add_x_is_refused():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    with pytest.raises(RuntimeError, match="would not be differentiated"):
        h.add_(x)


def test_values_that_require_grad_are_refused_in_place():
    x = _x([1.0, 2.0])
    buffer = Tensor(np.zeros(2))
    with pytest.raises(RuntimeError, match="values require grad.*gradient would be lost"):
        buffer.add_(x * 2)


# ------------------------------------------ 4. +=, -=, *=, /= with PyTorch's semantics

@pytest.mark.parametrize("update, expected", [
    (lambda w: w.__iadd__(1.0), [2.0, 3.0]), (lambda w: w.__isub__(1.0), [0.0, 1.0]),
    (lambda w: w.__imul__(0.5), [0.5, 1.0]), (lambda w: w.__itruediv__(2.0), [0.5, 1.0]),
])
def test_augmented_assignment_under_no_grad_updates_the_same_tensor(update, expected):
    layer = nn.Dense(1, 2)
    weight = layer.weight
    weight.data[...] = [[1.0, 2.0]]
    optimizer = optim.SGD(layer.parameters(), lr=0.1)
    with no_grad():
        assert update(layer.weight) is weight
    assert layer.weight is weight and optimizer.params[0] is weight
    np.testing.assert_array_equal(weight.data, [expected])
    assert weight.version == 1


def test_the_issue_example_weight_times_half_keeps_the_parameter_trained():
    layer = nn.Dense(1, 2)
    optimizer = optim.SGD(layer.parameters(), lr=0.1)
    with no_grad():
        layer.weight *= 0.5
    assert layer.weight is optimizer.params[0]
    layer(Tensor(np.ones((1, 1)))).sum().backward()
    before = layer.weight.data.copy()
    optimizer.step()
    assert not np.array_equal(layer.weight.data, before)


def test_augmented_assignment_on_a_leaf_that_requires_grad_is_pytorchs_error():
    w = _x([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf Tensor that requires grad.*no_grad"):
        w *= 0.5
    assert w.data.tolist() == [1.0, 2.0]


def test_augmented_assignment_on_a_tensor_without_grad_is_in_place_and_counted():
    t = Tensor([1.0, 2.0])
    same = t
    t += Tensor([1.0, 1.0])
    assert t is same and t.data.tolist() == [2.0, 3.0] and t.version == 1
    saved = Tensor(np.array([3.0, 4.0]))
    x = _x([1.0, 1.0])
    y = (x * saved).sum()
    saved *= 2
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_augmented_assignment_on_a_graph_result_is_refused():
    x = _x([1.0, 2.0])
    h = x * 2
    with pytest.raises(RuntimeError, match="result of Mul"):
        h += 1.0


# ---------------------------------------- issue 23, 8: .numpy() is a read-only view

def test_numpy_is_a_read_only_view_so_saved_values_cannot_change_unseen():
    x = _x([1.0, 2.0])
    y = (x * x).sum()
    view = x.numpy()
    assert np.shares_memory(view, x.data)
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 5.0
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_np_asarray_of_a_tensor_gives_its_values():
    t = Tensor([1.5, 2.5])
    array = np.asarray(t)
    assert array.dtype == np.float32 and array.tolist() == [1.5, 2.5]
    assert not array.flags.writeable
    assert np.array(t, dtype=np.float64).flags.writeable
    assert float(Tensor([2.5])) == 2.5 and int(Tensor(3.0)) == 3


# --------------------------------------------------- t[index] = values (PyTorch's habit)
def test_item_assignment_under_no_grad_updates_the_same_tensor_in_place():
    w = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    array, saved = w.data, (w * w).sum()  # a graph that saved w's values
    with no_grad():
        w[0] = 5.0
        w[1] *= 0.5  # t[1] is a view; *= writes through it, then assigns it back
    assert w.data is array and w.requires_grad
    np.testing.assert_array_equal(w.data, [[5.0, 5.0], [1.5, 2.0]])
    with pytest.raises(RuntimeError, match="modified in place"):
        saved.backward()  # the saved values are stale: refused, not a wrong gradient


def test_item_assignment_in_grad_mode_is_refused_where_backward_would_be_wrong():
    leaf = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"t\[index\] =: a leaf Tensor .* under `with no_grad"):
        leaf[0] = 0.0
    result = leaf * 2
    with pytest.raises(RuntimeError, match="result of Mul in a graph"):
        result[0] = 0.0
    plain = Tensor(np.zeros(2))
    with pytest.raises(RuntimeError, match="values require grad"):
        plain[0] = leaf[1]  # its gradient would be lost
    np.testing.assert_array_equal(leaf.data, [1.0, 2.0])
    np.testing.assert_array_equal(plain.data, [0.0, 0.0])


def test_item_assignment_takes_integer_tensors_and_names_a_bad_index():
    t = Tensor(np.zeros(4))
    t[Tensor(np.array([0, 2]), dtype=np.int64)] = 1.0
    np.testing.assert_array_equal(t.data, [1.0, 0.0, 1.0, 0.0])
    assert t._version[0] == 1
    with pytest.raises(IndexError, match=r"t\[index\] = values: .*shape \(4,\)"):
        t[9] = 1.0
