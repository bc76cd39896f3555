"""Layer mechanics: registration, modes, state, save/load, repr; Sequential as a list."""

import pickle

import numpy as np
import pytest

from tinygrad_mnist import Tensor, nn


class TwoBranches(nn.Layer):
    """A layer defined without calling super().__init__(): registration needs none."""

    def __init__(self):
        self.scale = Tensor(np.array([2.0]), requires_grad=True)
        self.left = nn.Dense(3, 2, seed=0)
        self.branches = [nn.Dense(2, 2, seed=1), nn.ReLU(), nn.Dense(2, 1, seed=2)]

    def forward(self, x):
        x = self.left(x) * self.scale
        for layer in self.branches:
            x = layer(x)
        return x


def small_model(seed=0):
    return nn.Sequential(nn.Dense(4, 3, seed=seed), nn.ReLU(), nn.Dropout(0.5, seed=seed),
                         nn.Dense(3, 2, seed=seed + 1))


def test_parameters_register_by_attribute_with_dotted_names():
    layer = TwoBranches()
    names = [name for name, _ in layer.named_parameters()]
    assert names == ["scale", "left.weight", "left.bias", "branches.0.weight",
                     "branches.0.bias", "branches.2.weight", "branches.2.bias"]
    assert layer.parameters()[0] is layer.scale
    assert layer.num_parameters() == 1 + (3 * 2 + 2) + (2 * 2 + 2) + (2 * 1 + 1)


def test_sequential_names_parameters_by_position():
    names = [name for name, _ in small_model().named_parameters()]
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias"]


def test_dense_without_bias_has_only_a_weight():
    layer = nn.Dense(3, 2, bias=False)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert layer(np.ones((1, 3), dtype=np.float32)).shape == (1, 2)


def test_dense_computes_x_at_w_plus_b_in_one_graph_node():
    layer = nn.Dense(3, 2, seed=0)
    layer.bias.data[:] = [1.0, -1.0]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = layer(x)
    np.testing.assert_allclose(out.data, x @ layer.weight.data + layer.bias.data, rtol=1e-6)
    assert out.op is nn.Affine
    assert out.dtype == np.float32


def test_train_and_eval_reach_every_sublayer():
    model = small_model()
    assert model.training and model[2].training
    assert model.eval() is model
    assert not model.training and not model[2].training
    model.train()
    assert model[2].training


def test_dropout_is_active_only_in_training():
    layer = nn.Dropout(0.5, seed=0)
    x = np.ones((200, 50), dtype=np.float32)
    out = layer(x).data
    assert set(np.unique(out)) == {0.0, 2.0}
    assert 0.45 < (out == 0).mean() < 0.55
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, x)


def test_dropout_is_reproducible_from_its_seed():
    x = np.ones((10, 10))
    a, b = nn.Dropout(0.3, seed=7)(x).data, nn.Dropout(0.3, seed=7)(x).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, nn.Dropout(0.3, seed=8)(x).data)


def test_flatten_keeps_the_batch_axis():
    assert nn.Flatten()(np.zeros((5, 28, 28))).shape == (5, 784)


def test_zero_grad_forgets_every_gradient():
    model = small_model()
    model(np.ones((2, 4), dtype=np.float32)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_astype_converts_in_place_and_returns_self():
    model = small_model()
    weight = model[0].weight
    assert model.astype(np.float64) is model
    assert model[0].weight is weight and weight.dtype == np.float64
    assert model(np.ones((1, 4))).dtype == np.float64


def test_state_dict_is_a_copy():
    model = small_model()
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    state["0.weight"][:] = 123
    assert not np.any(model[0].weight.data == 123)


def test_load_state_dict_copies_values_in_place():
    source, target = small_model(0), small_model(5)
    weight = target[0].weight
    target.load_state_dict(source.state_dict())
    assert target[0].weight is weight
    for (_, a), (_, b) in zip(source.named_parameters(), target.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_load_state_dict_names_a_missing_entry():
    state = small_model().state_dict()
    del state["3.bias"]
    with pytest.raises(ValueError, match=r"'3\.bias'.*missing"):
        small_model().load_state_dict(state)
    small_model().load_state_dict(state, strict=False)  # allowed when not strict


def test_load_state_dict_names_an_unexpected_entry():
    state = small_model().state_dict()
    state["9.weight"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"unexpected.*'9\.weight'"):
        small_model().load_state_dict(state)


def test_load_state_dict_names_a_wrongly_shaped_entry_and_changes_nothing():
    model = small_model()
    before = model.state_dict()
    state = small_model(3).state_dict()
    state["3.weight"] = np.zeros((3, 5))
    with pytest.raises(ValueError, match=r"'3\.weight' has shape \(3, 5\).*expected \(3, 2\)"):
        model.load_state_dict(state, strict=False)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_save_then_load_gives_identical_outputs(tmp_path):
    model = nn.MLP(6, [5, 4], 3, activation="tanh", seed=1)
    path = tmp_path / "model.npz"
    model.save(path)
    fresh = nn.MLP(6, [5, 4], 3, activation="tanh", seed=2)
    x = np.random.default_rng(0).normal(size=(7, 6)).astype(np.float32)
    assert not np.array_equal(fresh(x).data, model(x).data)
    assert fresh.load(path) is fresh
    np.testing.assert_array_equal(fresh(x).data, model(x).data)


def test_save_keeps_the_exact_path_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "weights.bin"
    small_model().save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["weights.bin"]
    small_model(1).load(path)


def test_loading_another_architecture_names_the_first_mismatch(tmp_path):
    path = tmp_path / "wide.npz"
    nn.MLP(6, [8], 3).save(path)
    with pytest.raises(ValueError, match=r"'0\.weight' has shape \(6, 8\).*expected \(6, 4\)"):
        nn.MLP(6, [4], 3).load(path)
    with pytest.raises(ValueError, match=r"'2\.weight' has shape \(8, 3\).*expected \(8, 8\)"):
        nn.MLP(6, [8, 8], 3).load(path)
    deeper = nn.MLP(6, [8], 3).append(nn.ReLU()).append(nn.Dense(3, 2))
    with pytest.raises(ValueError, match=r"'4\.weight'.*missing"):
        deeper.load(path)


def test_a_file_that_is_not_npz_is_refused(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("just some text")
    with pytest.raises(ValueError, match="not an .npz"):
        small_model().load(path)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match="single .npy array"):
        small_model().load(single)


def test_a_file_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    state = small_model().state_dict()
    state["0.weight"] = np.array([{"evil": 1}], dtype=object)
    np.savez(path, **state)
    with pytest.raises(ValueError, match="pickled"):
        small_model().load(path)
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps(state))
    with pytest.raises(ValueError, match="not an .npz"):
        small_model().load(raw)


def test_buffers_are_saved_and_loaded_but_not_trained(tmp_path):
    class Scaler(nn.Layer):
        def __init__(self):
            self.register_buffer("running_mean", np.zeros(3))

        def forward(self, x):
            return x

    layer = Scaler()
    layer.running_mean[:] = [1, 2, 3]
    assert layer.parameters() == []
    layer.save(tmp_path / "s.npz")
    fresh = Scaler().load(tmp_path / "s.npz")
    np.testing.assert_array_equal(fresh.running_mean, [1, 2, 3])
    assert Scaler().astype(np.float32).running_mean.dtype == np.float32


def test_repr_is_a_tree_with_the_parameter_count():
    text = repr(nn.MLP(784, [128], 10))
    assert text.splitlines() == [
        "MLP(784 -> 128 -> 10,",
        "  (0): Dense(784 -> 128, bias=True, activation=ReLU())",
        "  (2): Dense(128 -> 10, bias=True)",
        ")  [101,770 parameters]",
    ]
    assert repr(nn.ReLU()) == "ReLU()"


def test_sequential_behaves_like_a_list():
    model = small_model()
    assert len(model) == 4
    assert isinstance(model[0], nn.Dense) and isinstance(model[-1], nn.Dense)
    assert [type(layer) for layer in model] == [nn.Dense, nn.ReLU, nn.Dropout, nn.Dense]
    head = model[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is model[0]
    assert model.append(nn.Softmax()) is model and len(model) == 5
    assert [name for name, _ in model.named_parameters()][-1] == "3.bias"
    assert nn.Sequential([nn.ReLU(), nn.Tanh()])[1].__class__ is nn.Tanh


def test_sequential_refuses_a_non_layer():
    with pytest.raises(TypeError, match="layer 1 must be a Layer"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_call_runs_forward():
    class Double(nn.Layer):
        def forward(self, x, factor=2):
            return x * factor

    assert Double()(Tensor([1.0]), factor=3).item() == 3.0
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Layer()(1)


def test_a_file_that_is_no_archive_is_refused_and_closed(tmp_path):
    import gc

    from tinygrad_mnist.utils.npz import read_npz

    path = tmp_path / "garbage.npz"
    path.write_bytes(b"PK\x03\x04 a zip header, then nothing of an archive")
    with pytest.raises(ValueError, match="not an .npz archive"):
        read_npz(path)
    gc.collect()  # an unclosed file would warn here, and warnings are errors
