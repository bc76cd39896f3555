"""The built-in operations, each a `Function` with its forward and backward side by side.

`forward(ctx, *arrays)` computes with NumPy; `backward(ctx, grad)` returns the
gradient for each input. Gradients may keep the broadcast shape of the output:
`Tensor.backward` sums them back to each input's shape.
"""

import numpy as np

from tinygrad_mnist.tensor import Function

# ----------------------------------------------------------------- arithmetic


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad

    @staticmethod
    def backward_graph(ctx, grad):
        return grad, grad


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad):
        return grad, -grad

    @staticmethod
    def backward_graph(ctx, grad):
        return grad, -grad


class Mul(Function):
    private_gradients = True  # backward returns new products (saves a copy per leaf, see tensor.py)

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return a * b

    @staticmethod
    def backward(ctx, grad):
        need_a, need_b = ctx.needs_input_grad
        return (grad * ctx.b if need_a else None), (grad * ctx.a if need_b else None)

    @staticmethod
    def backward_graph(ctx, grad):
        (a, b), (need_a, need_b) = ctx.inputs, ctx.needs_input_grad
        return (grad * b if need_a else None), (grad * a if need_b else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return a / b

    @staticmethod
    def backward(ctx, grad):
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad / ctx.b if need_a else None
        grad_b = -grad * ctx.a / (ctx.b * ctx.b) if need_b else None
        return grad_a, grad_b

    @staticmethod
    def backward_graph(ctx, grad):
        (a, b), (need_a, need_b) = ctx.inputs, ctx.needs_input_grad
        grad_a = grad / b if need_a else None
        grad_b = -grad * a / (b * b) if need_b else None
        return grad_a, grad_b


class Pow(Function):
    @staticmethod
    def forward(ctx, base, exponent):
        ctx.base, ctx.exponent = base, exponent
        ctx.out = base**exponent
        return ctx.out

    @staticmethod
    def backward(ctx, grad):
        need_base, need_exponent = ctx.needs_input_grad
        base, exponent = ctx.base, ctx.exponent
        grad_base = grad * exponent * base ** (exponent - 1) if need_base else None
        # d(b^e)/de = b^e * log(b): only asked for when the exponent is a tensor
        # that requires grad, so a constant exponent never takes the log of a negative base.
        grad_exponent = grad * ctx.out * np.log(base) if need_exponent else None
        return grad_base, grad_exponent

    @staticmethod
    def backward_graph(ctx, grad):
        (base, exponent), (need_base, need_exponent) = ctx.inputs, ctx.needs_input_grad
        grad_base = grad * exponent * base ** (exponent - 1) if need_base else None
        grad_exponent = grad * ctx.output * base.log() if need_exponent else None
        return grad_base, grad_exponent


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad

    @staticmethod
    def backward_graph(ctx, grad):
        return -grad


class MatMul(Function):
    """`a @ b` with NumPy's rules: 1-D operands are vectors, leading axes broadcast."""

    private_gradients = True  # backward returns new products (or views of them)

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("operands need at least one axis, got a scalar")
        if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
            raise ValueError(
                f"the last axis of the left operand ({a.shape[-1]}) must equal the "
                f"{'only' if b.ndim == 1 else 'second-to-last'} axis of the right operand "
                f"({b.shape[0 if b.ndim == 1 else -2]})"
            )
        ctx.a, ctx.b = a, b
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.a, ctx.b
        # View vectors as 1-row / 1-column matrices so one formula covers every case.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        grad2 = grad[..., None] if b.ndim == 1 else grad
        grad2 = grad2[..., None, :] if a.ndim == 1 else grad2
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            grad_a = grad2 @ np.swapaxes(b2, -1, -2)
            grad_a = grad_a[..., 0, :] if a.ndim == 1 else grad_a
        if need_b:
            grad_b = np.swapaxes(a2, -1, -2) @ grad2
            grad_b = grad_b[..., 0] if b.ndim == 1 else grad_b
        return grad_a, grad_b

    @staticmethod
    def backward_graph(ctx, grad):
        # The same formulas as backward, with Tensor ops.
        a, b = ctx.inputs
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(1) if b.ndim == 1 else b
        grad2 = grad.unsqueeze(-1) if b.ndim == 1 else grad
        grad2 = grad2.unsqueeze(-2) if a.ndim == 1 else grad2
        need_a, need_b = ctx.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            grad_a = grad2 @ _swap_last_axes(b2)
            grad_a = grad_a.squeeze(-2) if a.ndim == 1 else grad_a
        if need_b:
            grad_b = _swap_last_axes(a2) @ grad2
            grad_b = grad_b.squeeze(-1) if b.ndim == 1 else grad_b
        return grad_a, grad_b


def _swap_last_axes(t):
    """`t` with its last two axes swapped (a Tensor op: recorded)."""
    axes = list(range(t.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return t.transpose(axes)


class Cast(Function):
    promotes_to_float64 = True  # float32 -> float64 is what it is asked for
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype)

    @staticmethod
    def backward_graph(ctx, grad):
        return grad.astype(ctx.dtype)


# ------------------------------------------------------------------ reductions


def _expand_reduced(grad, shape, axis, keepdims):
    """Give a reduced gradient back the axes the reduction removed, so it broadcasts.

    `grad` is an array, or under create_graph a Tensor (then reshaped, recorded).
    """
    if keepdims or axis is None:  # a 0-d gradient broadcasts as it is
        return grad
    if isinstance(grad, np.ndarray):
        return np.expand_dims(grad, axis)
    return grad.reshape(np.expand_dims(grad.data, axis).shape)


class Sum(Function):
    private_gradients = True  # backward fills a new array

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        # ndarray.sum's own work, without its Python wrapper (numpy/_core/_methods.py):
        # 0.1 µs, 1% of W3.
        return np.add.reduce(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        # Broadcast by assignment into a fresh array: cheaper than np.broadcast_to for
        # small tensors, and the result is writable.
        out = np.empty(ctx.shape, grad.dtype)
        out[...] = _expand_reduced(grad, ctx.shape, ctx.axis, ctx.keepdims)
        return out

    @staticmethod
    def backward_graph(ctx, grad):
        grad = _expand_reduced(grad, ctx.shape, ctx.axis, ctx.keepdims)
        return BroadcastTo.apply(grad, shape=ctx.shape)


class BroadcastTo(Function):
    """`a` repeated along its size-1 (and new leading) axes to `shape`, NumPy's broadcasting.

    Backward is the engine's unbroadcast: it sums the gradient back to `a`'s shape.
    Sum's gradient is a BroadcastTo, and BroadcastTo's a sum, to any order.
    """

    @staticmethod
    def forward(ctx, a, shape):
        out = np.empty(np.broadcast_shapes(a.shape, tuple(shape)), a.dtype)
        out[...] = a  # a writable array of its own, as every op's output is
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad  # summed back to the input's shape by the engine

    @staticmethod
    def backward_graph(ctx, grad):
        return grad


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        out = np.mean(a, axis=axis, keepdims=keepdims)
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        ctx.count = a.size / max(np.size(out), 1)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad = _expand_reduced(grad, ctx.shape, ctx.axis, ctx.keepdims)
        return np.broadcast_to(grad / ctx.count, ctx.shape)

    @staticmethod
    def backward_graph(ctx, grad):
        grad = _expand_reduced(grad, ctx.shape, ctx.axis, ctx.keepdims)
        return BroadcastTo.apply(grad / ctx.count, shape=ctx.shape)


class Max(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        out = np.max(a, axis=axis, keepdims=True)
        # A NaN is the maximum of its slice (NumPy propagates it): it alone gets the gradient.
        ctx.is_max = (a == out) | (np.isnan(a) & np.isnan(out))
        ctx.axis, ctx.keepdims = axis, keepdims
        return out if keepdims else np.squeeze(out, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        is_max = ctx.is_max
        grad = _expand_reduced(grad, is_max.shape, ctx.axis, ctx.keepdims)
        # Tied maxima share the gradient equally, so it still sums to `grad`.
        ties = np.sum(is_max, axis=ctx.axis, keepdims=True)
        return is_max * (grad / ties)

    @staticmethod
    def backward_graph(ctx, grad):
        # Which elements are maxima is constant almost everywhere: the same shares.
        grad = _expand_reduced(grad, ctx.is_max.shape, ctx.axis, ctx.keepdims)
        ties = np.sum(ctx.is_max, axis=ctx.axis, keepdims=True)
        return grad * (ctx.is_max / ties)


# ---------------------------------------------------------------- elementwise


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.sign = np.sign(a)  # 0 at 0: the subgradient PyTorch and NumPy's conventions pick
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.sign

    @staticmethod
    def backward_graph(ctx, grad):
        return grad * ctx.sign


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.out = np.exp(a)
        return ctx.out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.out

    @staticmethod
    def backward_graph(ctx, grad):
        return grad * ctx.output


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.a

    @staticmethod
    def backward_graph(ctx, grad):
        return grad / ctx.inputs[0]


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.out = np.sqrt(a)
        return ctx.out

    @staticmethod
    def backward(ctx, grad):
        return grad / (2 * ctx.out)

    @staticmethod
    def backward_graph(ctx, grad):
        return grad / (2 * ctx.output)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.out = np.tanh(a)
        return ctx.out

    @staticmethod
    def backward(ctx, grad):
        return grad * (1 - ctx.out * ctx.out)

    @staticmethod
    def backward_graph(ctx, grad):
        return grad * (1 - ctx.output * ctx.output)


def stable_sigmoid(a):
    """1 / (1 + exp(-a)) without overflow: exp is only taken of -|a|."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1, e) / (1 + e)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.out = stable_sigmoid(a).astype(a.dtype, copy=False)
        return ctx.out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.out * (1 - ctx.out)

    @staticmethod
    def backward_graph(ctx, grad):
        return grad * ctx.output * (1 - ctx.output)


class ReLU(Function):
    private_gradients = True  # a new product, or the private grad it was allowed to overwrite

    @staticmethod
    def forward(ctx, a):
        ctx.out = np.maximum(a, 0)
        return ctx.out

    @staticmethod
    def backward(ctx, grad):
        if ctx.grad_is_private:
            # No one else holds grad: mask it in place (saves a batch-sized array per step).
            grad *= ctx.out > 0
            return grad
        return grad * (ctx.out > 0)

    @staticmethod
    def backward_graph(ctx, grad):
        return grad * (ctx.out > 0)  # the mask is constant almost everywhere


class Clip(Function):
    @staticmethod
    def forward(ctx, a, low=None, high=None):
        if low is None and high is None:
            raise ValueError("clip needs min, max or both, got neither")
        ctx.inside = np.ones(a.shape, dtype=bool)
        if low is not None:
            ctx.inside &= a >= low
        if high is not None:
            ctx.inside &= a <= high
        return np.clip(a, low, high)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.inside

    @staticmethod
    def backward_graph(ctx, grad):
        return grad * ctx.inside


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = np.maximum(a, b)
        # Ties share the gradient equally, as for `max`.
        ctx.share_a = np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0)).astype(out.dtype)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.share_a, grad * (1 - ctx.share_a)

    @staticmethod
    def backward_graph(ctx, grad):
        return grad * ctx.share_a, grad * (1 - ctx.share_a)


class Where(Function):
    @staticmethod
    def forward(ctx, a, b, condition):
        ctx.condition = condition
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        return np.where(ctx.condition, grad, 0), np.where(ctx.condition, 0, grad)

    @staticmethod
    def backward_graph(ctx, grad):
        zero = np.zeros((), dtype=grad.dtype)
        return (Where.apply(grad, zero, condition=ctx.condition),
                Where.apply(zero, grad, condition=ctx.condition))


# ---------------------------------------------------------- softmax and friends


def log_normalizer_and_softmax(a, axis):
    """`(log(sum(exp(a))), exp(a) / sum(exp(a)))` along `axis`, the first with the axis kept.

    One exp, taken of `a` minus its maximum, so it never overflows; the losses in
    `nn` use it too.
    """
    a = np.asarray(a)
    # Array methods rather than np.max / np.sum: they skip a Python wrapper (~1 µs a call,
    # a tenth of a batch-128 loss).
    peak = a.max(axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0)
    softmax = np.asarray(a - peak)  # an array even for 0-d input, so exp can work in place
    np.exp(softmax, out=softmax)
    total = softmax.sum(axis=axis, keepdims=True)
    softmax /= total
    return np.log(total) + peak, softmax


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        out, ctx.softmax = log_normalizer_and_softmax(a, axis)
        ctx.axis, ctx.keepdims = axis, keepdims
        return out if keepdims else np.squeeze(out, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        grad = _expand_reduced(grad, ctx.softmax.shape, ctx.axis, ctx.keepdims)
        return grad * ctx.softmax

    @staticmethod
    def backward_graph(ctx, grad):
        (a,) = ctx.inputs
        grad = _expand_reduced(grad, a.shape, ctx.axis, ctx.keepdims)
        out = _expand_reduced(ctx.output, a.shape, ctx.axis, ctx.keepdims)
        return grad * (a - out).exp()  # the softmax, as a function of a


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, axis=-1):
        log_normalizer, ctx.softmax = log_normalizer_and_softmax(a, axis)
        ctx.axis = axis
        return a - log_normalizer

    @staticmethod
    def backward(ctx, grad):
        return grad - ctx.softmax * np.sum(grad, axis=ctx.axis, keepdims=True)

    @staticmethod
    def backward_graph(ctx, grad):
        return grad - ctx.output.exp() * grad.sum(axis=ctx.axis, keepdims=True)


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, axis=-1):
        _, ctx.out = log_normalizer_and_softmax(a, axis)
        ctx.axis = axis
        return ctx.out

    @staticmethod
    def backward(ctx, grad):
        out = ctx.out
        return out * (grad - np.sum(grad * out, axis=ctx.axis, keepdims=True))

    @staticmethod
    def backward_graph(ctx, grad):
        out = ctx.output
        return out * (grad - (grad * out).sum(axis=ctx.axis, keepdims=True))


# ------------------------------------------------------------------- movement


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad

    @staticmethod
    def backward_graph(ctx, grad):
        return grad


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return np.reshape(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return np.reshape(grad, ctx.shape)

    @staticmethod
    def backward_graph(ctx, grad):
        return grad.reshape(ctx.shape)


class Transpose(Function):
    @staticmethod
    def forward(ctx, a, axes=None):
        ctx.axes = axes
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, grad):
        return np.transpose(grad, None if ctx.axes is None else np.argsort(ctx.axes))

    @staticmethod
    def backward_graph(ctx, grad):
        return grad.transpose() if ctx.axes is None else grad.transpose(tuple(np.argsort(ctx.axes)))


def _is_basic_index(index) -> bool:
    """True for ints, slices, None and Ellipsis: an index that selects each element once."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


def _scatter_add(values, shape, index, dtype):
    full = np.zeros(shape, dtype=dtype)
    if _is_basic_index(index):
        full[index] = values
    else:
        # An integer array may pick one element several times: add, don't overwrite.
        np.add.at(full, index, values)
    return full


class GetItem(Function):
    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        return _scatter_add(grad, ctx.shape, ctx.index, ctx.dtype)

    @staticmethod
    def backward_graph(ctx, grad):
        return ScatterAdd.apply(grad, shape=ctx.shape, index=ctx.index)


class ScatterAdd(Function):
    """Zeros of `shape` with `values` added at `index` (repeated indices add up).

    GetItem's gradient; its own gradient is GetItem again, so indexing is
    differentiable to any order.
    """

    @staticmethod
    def forward(ctx, values, shape, index):
        ctx.index = index
        return _scatter_add(values, shape, index, values.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.index]

    @staticmethod
    def backward_graph(ctx, grad):
        return GetItem.apply(grad, index=ctx.index)


class Concatenate(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.splits = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.split(grad, ctx.splits, axis=ctx.axis))

    @staticmethod
    def backward_graph(ctx, grad):
        axis = ctx.axis % grad.ndim
        bounds = [0, *ctx.splits, grad.shape[axis]]
        lead = (slice(None),) * axis
        return tuple(grad[lead + (slice(int(start), int(stop)),)]
                     for start, stop in zip(bounds[:-1], bounds[1:]))


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.moveaxis(grad, ctx.axis, 0))

    @staticmethod
    def backward_graph(ctx, grad):
        axis = ctx.axis % grad.ndim
        lead = (slice(None),) * axis
        return tuple(grad[lead + (i,)] for i in range(grad.shape[axis]))
