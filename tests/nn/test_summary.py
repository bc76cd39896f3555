"""`model.summary()`: per layer the output shape and the parameter count, as Keras prints."""

import numpy as np
import pytest

from tinygrad_mnist import Tensor, nn


def test_an_mlp_summary_lists_each_layer_with_its_output_shape_and_parameters():
    assert nn.MLP(784, [128], 10, seed=0).summary(input_shape=(784,)).splitlines() == [
        "Model: MLP",
        "Layer (type)     Output shape   Parameters",
        "==========================================",
        "0 (Dense+ReLU)   (None, 128)       100,480",  # the ReLU runs inside the layer
        "2 (Dense)        (None, 10)          1,290",
        "==========================================",
        "Total parameters: 101,770",
        "Trainable parameters: 101,770",
        "Non-trainable parameters: 0",
    ]


def test_a_model_with_an_input_shape_needs_no_argument_and_is_left_as_it_was():
    model = nn.CNN((1, 12, 12), [4], 3, kernel_size=3, hidden_sizes=[5], batch_norm=True, seed=0)
    model[-1].requires_grad_(False)
    model[1].eval()  # one layer in another mode than the rest: both modes come back
    state = model.state_dict()
    lines = model.summary().splitlines()
    assert lines[3].split() == ["0", "(Conv2d)", "(None,", "4,", "12,", "12)", "36"]
    assert lines[5].split() == ["2", "(MaxPool2d)", "(None,", "4,", "6,", "6)", "0"]
    assert lines[7].split() == ["4", "(Flatten)", "(None,", "144)", "0"]
    assert lines[-3:] == ["Total parameters: 792", "Trainable parameters: 774",
                          "Non-trainable parameters: 18"]
    assert model.training and not model[1].training and model[5].training
    for name, array in model.state_dict().items():  # no running statistics moved
        np.testing.assert_array_equal(array, state[name], err_msg=name)
    assert all("forward" not in vars(layer) for layer in model.modules())


def test_without_an_input_shape_the_summary_counts_parameters_only():
    # A first Dense would tell the Sequential its input shape; a first Tanh cannot.
    text = nn.Sequential(nn.Tanh(), nn.Dense(3, 2)).summary()
    assert text.splitlines()[1:5] == ["Layer (type)   Parameters", "=" * 25,
                                      "0 (Tanh)                0", "1 (Dense)               8"]
    assert "give summary(input_shape=...)" in text.splitlines()[-1]


def test_nested_layers_are_indented_under_the_layer_that_holds_them():
    class TwoHeads(nn.Layer):
        def __init__(self):
            self.body = nn.Sequential(nn.Dense(4, 3), nn.Tanh())
            self.heads = {"a": nn.Dense(3, 2), "b": nn.Dense(3, 1)}

        def forward(self, x):
            h = self.body(x)
            return self.heads["a"](h).sum() + self.heads["b"](h).sum()

    names = [line.split("(")[0].rstrip() for line in
             TwoHeads().summary(input_shape=4).splitlines()[3:8]]
    assert names == ["body", "  body.0", "  body.1", "heads.a", "heads.b"]
    assert "(None, 2)" in TwoHeads().summary(input_shape=(4,))


@pytest.mark.parametrize("bad", [(), (0, 3), (2.5,), "784", (True,)])
def test_a_bad_input_shape_is_named(bad):
    with pytest.raises(ValueError, match="summary: input_shape must be one example's shape"):
        nn.MLP(4, [3], 2).summary(input_shape=bad)


def test_an_input_shape_the_model_cannot_take_is_named_and_nothing_is_left_behind():
    model = nn.MLP(4, [3], 2)
    with pytest.raises(ValueError, match=r"cannot take examples of shape \(5,\) \(input_shape\)"):
        model.summary(input_shape=(5,))
    assert model.training and all("forward" not in vars(layer) for layer in model.modules())
    assert model(Tensor(np.ones((1, 4)))).shape == (1, 2)
