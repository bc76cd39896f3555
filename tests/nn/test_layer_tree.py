"""What a layer holds, as PyTorch users expect: containers, buffers, modules, apply, freezing."""

import numpy as np
import pytest

from tinygrad_mnist import Tensor, nn, no_grad, optim


class Containers(nn.Layer):
    """A dict of layers, a list of tensors and a tuple nested in a list."""

    def __init__(self):
        self.heads = {"digits": nn.Dense(3, 2, seed=0), "parity": nn.Dense(3, 1, seed=1)}
        self.scales = [Tensor(np.array([2.0]), requires_grad=True),
                       Tensor(np.array([3.0]), requires_grad=True)]
        self.blocks = [(nn.Dense(3, 3, seed=2), nn.Tanh())]
        self.sizes = [3, 2, 1]  # numbers are not parameters

    def forward(self, x):
        x = self.blocks[0][1](self.blocks[0][0](x))
        return (self.heads["digits"](x) * self.scales[0]).sum() + \
            (self.heads["parity"](x) * self.scales[1]).sum()


NAMES = ["scales.0", "scales.1", "heads.digits.weight", "heads.digits.bias",
         "heads.parity.weight", "heads.parity.bias", "blocks.0.0.weight", "blocks.0.0.bias"]


def test_dicts_lists_and_nested_tuples_are_found_and_named():
    layer = Containers()
    assert [name for name, _ in layer.named_parameters()] == NAMES
    assert layer.parameters()[0] is layer.scales[0]
    assert list(layer.state_dict()) == NAMES
    assert [name for name, _ in layer.named_children()] == [
        "heads.digits", "heads.parity", "blocks.0.0", "blocks.0.1"]
    layer(np.ones((2, 3))).backward()
    assert all(p.grad is not None for p in layer.parameters())


def test_containers_round_trip_through_save_and_load(tmp_path):
    layer, fresh = Containers(), Containers()
    with no_grad():
        for p in layer.parameters():
            p.add_(1.0)
    layer.save(tmp_path / "c.npz")
    fresh.load(tmp_path / "c.npz")
    for (name, a), (_, b) in zip(layer.named_parameters(), fresh.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


def test_a_dict_key_that_cannot_be_named_is_an_error_not_a_skipped_layer():
    class BadKey(nn.Layer):
        def __init__(self):
            self.heads = {1: nn.Dense(2, 2)}

    with pytest.raises(ValueError, match="heads: a dict holding tensors or layers needs"):
        BadKey().parameters()

    class DottedKey(nn.Layer):
        def __init__(self):
            self.heads = {"a.b": Tensor(np.ones(2), requires_grad=True)}

    with pytest.raises(ValueError, match="'a.b'"):
        DottedKey().state_dict()

    class Unordered(nn.Layer):
        def __init__(self):
            self.weights = {Tensor(np.ones(2), requires_grad=True)}

    with pytest.raises(TypeError, match="weights: a set of tensors"):
        Unordered().parameters()


def test_a_dict_of_plain_settings_is_left_alone():
    class Configured(nn.Layer):
        def __init__(self):
            self.options = {1: "one", "two": [2.0, 3.0]}
            self.dense = nn.Dense(2, 2)

    assert [name for name, _ in Configured().named_parameters()] == ["dense.weight", "dense.bias"]


# ------------------------------------------------------------------------ buffers


class Counter(nn.Layer):
    def __init__(self):
        self.register_buffer("steps", 0)
        self.register_buffer("mask", Tensor([1.0, 0.0, 1.0]))
        self.weight = Tensor(np.ones(3), requires_grad=True)

    def forward(self, x):
        self.steps = self.steps + 1  # rebinding, as PyTorch code does
        return x * self.weight * self.mask


def test_register_buffer_with_a_tensor_stores_its_array():
    layer = Counter()
    assert type(layer.mask) is np.ndarray and layer.mask.dtype == np.float32
    np.testing.assert_array_equal(layer.mask, [1.0, 0.0, 1.0])
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert [name for name, _ in layer.named_buffers()] == ["steps", "mask"]


def test_a_zero_d_buffer_updated_by_rebinding_saves_and_loads_back(tmp_path):
    layer = Counter()
    for _ in range(3):
        layer(np.ones(3))
    assert int(layer.state_dict()["steps"]) == 3
    layer.save(tmp_path / "counter.npz")
    fresh = Counter()
    fresh(np.ones(3))  # rebound to a NumPy scalar before loading, too
    fresh.load(tmp_path / "counter.npz")
    assert int(fresh.steps) == 3
    fresh(np.ones(3))
    assert int(fresh.steps) == 4
    fresh.load_state_dict(layer.state_dict())
    assert int(fresh.steps) == 3


def test_save_refuses_what_load_would_refuse_and_writes_nothing(tmp_path):
    layer = Counter()
    path = tmp_path / "counter.npz"
    path.write_bytes(b"an earlier file")
    layer.steps = None  # rebound to something that is no array of numbers
    with pytest.raises(ValueError, match="'steps' holds Python objects"):
        layer.save(path)
    assert path.read_bytes() == b"an earlier file"
    with pytest.raises(ValueError, match="'bad' holds Python objects"):
        layer.register_buffer("bad", [object()])


def test_parameters_may_be_named_like_savez_arguments(tmp_path):
    class Awkward(nn.Layer):
        def __init__(self, value):
            self.file = Tensor(np.full(2, value), requires_grad=True)
            self.allow_pickle = Tensor(np.full(3, value), requires_grad=True)

    Awkward(5.0).save(tmp_path / "awkward.npz")
    loaded = Awkward(0.0).load(tmp_path / "awkward.npz")
    np.testing.assert_array_equal(loaded.file.data, 5.0)
    np.testing.assert_array_equal(loaded.allow_pickle.data, 5.0)


def test_register_buffer_refuses_to_shadow_a_parameter():
    layer = Counter()
    with pytest.raises(ValueError, match="'weight' is already a parameter or a sub-layer"):
        layer.register_buffer("weight", np.zeros(3))


def test_load_state_dict_takes_tensor_values():
    source, target = nn.Dense(3, 2, seed=0), nn.Dense(3, 2, seed=1)
    target.load_state_dict({name: Tensor(p.data) for name, p in source.named_parameters()})
    np.testing.assert_array_equal(target.weight.data, source.weight.data)


# ----------------------------------------------------------- modules and apply


def test_named_modules_lists_each_layer_once_parents_first():
    shared = nn.Dense(2, 2)
    model = nn.Sequential(shared, nn.Sequential(nn.ReLU(), shared))
    names = [name for name, _ in model.named_modules()]
    assert names == ["", "0", "1", "1.0"]
    assert list(model.modules())[0] is model
    assert [name for name, _ in Containers().named_modules(prefix="net")] == [
        "net", "net.heads.digits", "net.heads.parity", "net.blocks.0.0", "net.blocks.0.1"]


def test_apply_initialises_every_layer_once_children_first():
    shared = nn.Dense(2, 2)
    model = nn.Sequential(shared, nn.Sequential(nn.ReLU(), shared), nn.Dense(2, 3))
    seen = []

    def init(layer):
        seen.append(layer)
        if isinstance(layer, nn.Dense):
            with no_grad():  # a leaf that requires grad changes in place only there (PyTorch)
                layer.weight.copy_(np.full(layer.weight.shape, 0.5))

    assert model.apply(init) is model
    assert len(seen) == len({id(layer) for layer in seen}) == 5
    assert seen[-1] is model and seen.index(model[1][0]) < seen.index(model[1])
    assert all(np.all(layer.weight.data == 0.5) for layer in (model[0], model[2]))
    with pytest.raises(TypeError, match="apply: fn must be callable"):
        model.apply(None)


# -------------------------------------------------------------------- freezing


@pytest.mark.parametrize("make_optimizer", [
    lambda params: optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda params: optim.Adam(params, lr=0.1, weight_decay=0.1),
])
def test_a_frozen_layer_is_left_alone_by_training(make_optimizer):
    model = nn.MLP(4, [5], 3, seed=0)
    assert model[0].requires_grad_(False) is model[0]
    frozen = [p.data.copy() for p in model[0].parameters()]
    trained = [p.data.copy() for p in model[-1].parameters()]
    optimizer = make_optimizer(model.parameters())
    x, y = np.random.default_rng(0).normal(size=(8, 4)), np.arange(8) % 3
    for _ in range(3):
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        optimizer.step()
    assert all(p.grad is None for p in model[0].parameters())
    for before, p in zip(frozen, model[0].parameters()):
        np.testing.assert_array_equal(p.data, before)
    assert all(not np.array_equal(before, p.data)
               for before, p in zip(trained, model[-1].parameters()))
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(TypeError, match="requires_grad_: expected True or False"):
        model.requires_grad_("no")
