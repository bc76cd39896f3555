"""What an extender cannot break: gradients never alias data, in-place updates under a graph
are caught, truth values and no_grad behave as in NumPy and PyTorch."""

import numpy as np
import pytest

from tinygrad_mnist import Function, Tensor, nn, no_grad, optim

# ------------------------------------------------------------------ aliasing
# Each op returns, as a's gradient, an array that it still holds somewhere: d(sum(a*b))/da = b.
# After two backward passes a.grad must be 2b, and b (a constant input) must be unchanged.


class KeepsViaSaveForBackward(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        (b,) = ctx.saved_tensors
        return b, None


class KeepsInATuple(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.pair = (b, None)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        return ctx.pair[0], None


class KeepsInAList(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.kept = [b]
        return a * b

    @staticmethod
    def backward(ctx, grad):
        return ctx.kept[0], None


class KeepsOnTheClass(Function):
    kept = None

    @staticmethod
    def forward(ctx, a, b):
        KeepsOnTheClass.kept = b
        return a * b

    @staticmethod
    def backward(ctx, grad):
        return KeepsOnTheClass.kept, None


def keeps_in_a_closure():
    kept = {}

    class KeepsInAClosure(Function):
        @staticmethod
        def forward(ctx, a, b):
            kept["b"] = b
            return a * b

        @staticmethod
        def backward(ctx, grad):
            return kept["b"], None

    return KeepsInAClosure


class ReturnsItsOwnNewArrayAndKeepsIt(Function):
    """A fresh array from backward that the op also keeps for later (a cache, say)."""

    @staticmethod
    def forward(ctx, a):
        return 2 * a

    @staticmethod
    def backward(ctx, grad):
        ReturnsItsOwnNewArrayAndKeepsIt.last = 2 * grad
        return ReturnsItsOwnNewArrayAndKeepsIt.last


@pytest.mark.parametrize("op", [KeepsViaSaveForBackward, KeepsInATuple, KeepsInAList,
                                KeepsOnTheClass, keeps_in_a_closure()],
                         ids=["save_for_backward", "tuple", "list", "class", "closure"])
@pytest.mark.parametrize("shape", [(3,), (64, 64)])  # small and large gradients alike
def test_a_gradient_the_op_still_holds_is_never_aliased(op, shape):
    a = Tensor(np.ones(shape), requires_grad=True)
    b = np.full(shape, 5.0)
    op.apply(a, b).sum().backward()
    op.apply(a, b).sum().backward()
    np.testing.assert_array_equal(b, np.full(shape, 5.0))
    np.testing.assert_array_equal(a.grad, np.full(shape, 10.0))


def test_a_constant_tensor_input_is_not_changed_by_accumulation():
    a = Tensor(np.ones((64, 64)), requires_grad=True)
    b = Tensor(np.full((64, 64), 5.0))
    for _ in range(2):
        KeepsViaSaveForBackward.apply(a, b).sum().backward()
    np.testing.assert_array_equal(b.data, 5.0)
    np.testing.assert_array_equal(a.grad, 10.0)


def test_an_array_the_op_keeps_after_backward_is_not_the_leaf_gradient():
    x = Tensor(np.ones((64, 64)), requires_grad=True)
    ReturnsItsOwnNewArrayAndKeepsIt.apply(x).backward(np.ones((64, 64)))
    kept = ReturnsItsOwnNewArrayAndKeepsIt.last
    assert x.grad is not kept
    x.grad += 1
    np.testing.assert_array_equal(kept, 2.0)


def test_two_leaves_given_the_same_array_get_separate_gradients():
    a = Tensor(np.ones((64, 64)), requires_grad=True)
    b = Tensor(np.ones((64, 64)), requires_grad=True)
    (a + b).sum().backward()  # Add hands the same array to both inputs
    a.grad += 10
    np.testing.assert_array_equal(b.grad, 1.0)


def test_a_gradient_given_to_backward_is_not_changed_by_accumulation():
    given = np.ones((64, 64))
    leaf = Tensor(np.ones((64, 64)), requires_grad=True)
    leaf.backward(given)
    leaf.backward(given)
    np.testing.assert_array_equal(given, 1.0)
    np.testing.assert_array_equal(leaf.grad, 2.0)


def test_saved_tensors_is_what_save_for_backward_kept():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 2 * x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            x, twice = ctx.saved_tensors
            return grad * twice

    x = Tensor([1.0, 3.0], requires_grad=True)
    Square.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 6.0])


# ----------------------------------------------------------- forward errors


class FailsInForward(Function):
    @staticmethod
    def forward(ctx, a):
        raise ValueError("the extender's own message")

    @staticmethod
    def backward(ctx, grad):
        return grad


def test_a_forward_error_keeps_the_original_as_its_cause():
    with pytest.raises(ValueError, match=r"^FailsInForward: the extender's own message") as info:
        FailsInForward.apply(Tensor([1.0]))
    cause = info.value.__cause__
    assert isinstance(cause, ValueError) and str(cause) == "the extender's own message"
    assert cause.__traceback__ is not None  # the extender's failing line is in the traceback


def test_a_matmul_error_names_the_op_once():
    with pytest.raises(ValueError) as info:
        Tensor(np.ones((3, 4))) @ Tensor(np.ones((5, 6)))
    message = str(info.value)
    assert message.startswith("MatMul: ") and "matmul:" not in message.lower()[8:]


# ---------------------------------------------------------- version counters


def test_every_in_place_method_bumps_the_version():
    t = Tensor(np.ones(3))
    versions = [t.version]
    t.copy_(np.zeros(3))
    versions.append(t.version)
    t.add_(1.0)
    versions.append(t.version)
    t.sub_(np.full(3, 0.5))
    versions.append(t.version)
    t.mul_(4.0)
    versions.append(t.version)
    assert versions == sorted(set(versions)) and len(versions) == 5
    np.testing.assert_array_equal(t.data, 2.0)


def test_in_place_methods_refuse_a_shape_that_does_not_fit():
    t = Tensor(np.ones(3))
    with pytest.raises(ValueError, match=r"copy_.*shape \(4,\).*\(3,\)"):
        t.copy_(np.ones(4))
    assert t.version == 0


def test_an_optimizer_step_between_forward_and_backward_is_caught():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True, name="w")
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match=r"Mul.*'w'.*modified in place.*version"):
        loss.backward()


@pytest.mark.parametrize("optimizer", [
    lambda ps: optim.SGD(ps, lr=0.1),
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    lambda ps: optim.Adam(ps, lr=0.1),
    lambda ps: optim.AdamW(ps, lr=0.1),
])
def test_every_optimizer_step_bumps_the_version(optimizer):
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (w * w).sum().backward()
    before = w.version
    optimizer([w]).step()
    assert w.version > before


def test_load_state_dict_between_forward_and_backward_is_caught():
    model = nn.Dense(3, 2, seed=0)
    loss = model(np.ones((1, 3))).sum()
    model.load_state_dict(nn.Dense(3, 2, seed=1).state_dict())
    with pytest.raises(RuntimeError, match=r"modified in place"):
        loss.backward()


def test_an_unnamed_tensor_is_described_by_its_shape():
    w = Tensor(np.ones((2, 3)), requires_grad=True)
    y = (w.exp() * 2).sum()
    with no_grad():
        w.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"Exp.*input 0.*shape \(2, 3\).*version 1.*version 0"):
        y.backward()


def test_rebinding_data_is_not_an_in_place_change():
    # Layer.astype rebinds .data to a new array: the graph keeps the old one, still intact.
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w * w).sum()
    w.data = np.array([5.0, 5.0])
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])


# ---------------------------------------------------------------- truth value


def test_a_one_element_tensor_is_true_or_false_by_its_value():
    assert not (Tensor([0.0]) == 5)
    assert Tensor([5.0]) == 5
    assert bool(Tensor(2.0)) and not bool(Tensor([[0.0]]))


def test_a_larger_tensor_has_no_truth_value():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor(np.zeros(0)))


def test_membership_compares_values_like_numpy():
    assert Tensor([1.0]) not in [Tensor([2.0])]
    assert Tensor([2.0]) in [Tensor([2.0])]
    t = Tensor([1.0, 2.0])
    assert t in [t]  # identity first, as for every Python object


@pytest.mark.parametrize("dtype", [object, str, "U3", complex])
def test_an_explicit_non_numeric_dtype_is_refused(dtype):
    with pytest.raises(TypeError, match="numeric"):
        Tensor([1, 2], dtype=dtype)


# ------------------------------------------------------------------- no_grad


def test_no_grad_refuses_to_decorate_a_generator_function():
    # Its body would run after the call returned, outside the block: gradients on.
    with pytest.raises(TypeError, match="generator function 'outputs'.*with no_grad"):
        @no_grad()
        def outputs():
            yield 1


def test_one_no_grad_instance_nests():
    x = Tensor([1.0], requires_grad=True)
    quiet = no_grad()
    with quiet:
        with quiet:
            assert not (x * 2).requires_grad
        assert not (x * 2).requires_grad  # still inside the outer block
    assert (x * 2).requires_grad


def test_a_decorated_function_called_from_inside_itself_restores_grad_mode():
    x = Tensor([1.0], requires_grad=True)

    @no_grad()
    def countdown(n):
        return countdown(n - 1) if n else x * 2

    assert not countdown(3).requires_grad
    assert (x * 2).requires_grad


def test_a_forward_error_already_naming_its_op_is_not_prefixed_again():
    class Named(Function):
        @staticmethod
        def forward(ctx, a):
            raise ValueError("Named: bad input")

    with pytest.raises(ValueError, match=r"^Named: bad input \(input shapes \(1,\)\)$"):
        Named.apply(Tensor([1.0]))
