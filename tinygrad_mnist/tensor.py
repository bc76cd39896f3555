"""The autograd engine: `Tensor`, `Function`, `backward()` and `no_grad()`.

A `Tensor` wraps one NumPy array. Every differentiable operation is a `Function`
subclass (see `ops.py`): `forward` computes the result from plain arrays and may
leave notes on a context object; `backward` turns the gradient of the result into
one gradient per input. `Function.apply` runs `forward` and, when a gradient is
needed, records the result's parents so that `Tensor.backward()` can walk the graph
in reverse topological order and apply the chain rule.
"""

from __future__ import annotations

import weakref

import numpy as np

from tinygrad_mnist.grad_mode import _grad_mode, enable_grad, is_grad_enabled, no_grad

__all__ = ["Context", "Function", "Tensor", "concatenate", "enable_grad", "grad",
           "is_grad_enabled", "no_grad", "stack", "where"]


class Context:
    """What a `Function.forward` leaves for its `backward`: any attributes it likes.

    `needs_input_grad[i]` tells whether input `i` needs a gradient, so that
    `backward` can skip work (and return None) for the others. `grad_is_private`,
    set by `backward()` just before it calls the op's backward, is True when no one
    but the engine holds the `grad` array it passes: backward may then write into it
    (the built-in ReLU multiplies by its mask in place instead of making a new array).
    Before it calls `backward_graph`, the engine also sets `inputs` (the input
    Tensors) and `output` (the output Tensor).
    """

    grad_is_private = False

    def save_for_backward(self, *arrays):
        """Keep arrays for backward, which reads them as `ctx.saved_tensors` (as in PyTorch).

        The same as `ctx.x = x`; either way, backward may return a saved array as a
        gradient: the engine never adds into an array it did not make.
        """
        self.saved_tensors = arrays

    def mark_non_differentiable(self, *arrays):
        """Say that these output arrays (integer indices, say) get no gradient (as in PyTorch).

        Their Tensors do not require grad, and backward receives None for them.
        """
        self.non_differentiable = {id(array) for array in arrays}


class Function:
    """An operation with a forward and a backward: the one way ops are defined.

    Subclass it and write the static methods side by side::

        class Square(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return 2 * x * grad

            @staticmethod
            def backward_graph(ctx, grad):
                (x,) = ctx.inputs
                return 2 * x * grad

    then call `Square.apply(t)`. `forward` receives NumPy arrays (and any keyword
    parameters given to `apply`) and returns an array. `backward` receives the
    gradient of the output and returns one gradient per input, a tuple when there
    are several, or None for an input that needs none. A gradient that has the
    broadcast shape of the output is summed back to its input's shape for you.

    Gradients of gradients: `backward` works on arrays, so what it computes leaves
    no graph. An op that can be differentiated twice also defines
    `backward_graph(ctx, grad)`, the same chain rule written with Tensor operations:
    `grad` is a Tensor, `ctx.inputs` (the input Tensors) and `ctx.output` (the output
    Tensor) are set by the engine before the call, and it returns Tensors (or None),
    one per input, made with Tensor ops or other Functions so that the engine records
    them. The engine calls it, with grad mode on, only under
    `backward(create_graph=True)` or `grad(..., create_graph=True)`; otherwise
    `backward` runs, on plain arrays, at full speed. Meeting an op without
    `backward_graph` under `create_graph=True` is a RuntimeError naming the op.

    Whatever backward returns may be an array the op keeps (on ctx, on its class...):
    the engine copies it before it ever adds into it. A built-in op whose backward
    returns only arrays it has just made (or the grad it was allowed to overwrite, see
    `Context`), a different one per input and kept nowhere, says so with
    `private_gradients = True` in its class body; the engine then passes those arrays
    on without copying.

    Both `private_gradients` and `backward_graph` describe one particular `backward`,
    so a subclass that defines its own `backward` inherits neither: each is set once
    per class, when the class is made (`__init_subclass__`).
    """

    private_gradients = False
    backward_graph = None
    promotes_to_float64 = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "fresh_gradients" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: fresh_gradients is now called private_gradients")
        if "backward" in cls.__dict__:
            # A new backward: a base's promises about its gradients say nothing of it.
            if "private_gradients" not in cls.__dict__:
                cls.private_gradients = False
            if "backward_graph" not in cls.__dict__:
                cls.backward_graph = None

    @staticmethod
    def forward(ctx, *arrays, **params):
        """Compute the output array from the input arrays; leave notes for backward on ctx."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        """The gradient of each input (None for one that needs none) given the output's."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        """Run `forward` on the inputs' arrays; record the graph if a gradient is needed.

        Returns a Tensor, or a tuple of Tensors when `forward` returns a tuple of arrays.
        """
        # Plain lists and loops, not generator expressions: this runs for every op, and
        # its overhead is what small tensors pay (see benchmarks/).
        tensors, arrays = [], []  # (four names in one assignment would build a tuple)
        needs_input_grad, versions = [], []
        for x in inputs:  # one loop, not four comprehensions: 0.3 µs an op (6% of W3)
            if not isinstance(x, Tensor):
                x = _input_tensor(cls, inputs, x)
            tensors.append(x)
            arrays.append(x.data)
            needs_input_grad.append(x.requires_grad)
            # The inputs' versions now, so that backward can tell if one of them (or the
            # output itself, see `_refuse_changed_output`) was changed in place meanwhile.
            versions.append(x._version[0])
        if _grad_mode.enabled:
            needs_grad = True in needs_input_grad
        else:
            needs_input_grad, needs_grad = [False] * len(tensors), False
        ctx = Context()
        ctx.needs_input_grad = needs_input_grad
        try:
            data = cls.forward(ctx, *arrays, **params)
        except Exception as error:
            named = _naming_the_op(error, cls, tensors)
            if named is error:
                raise
            # Chained, so the traceback still ends at the line in forward that failed.
            raise named from error
        if type(data) is not np.ndarray:
            # A NumPy scalar (what a full reduction gives) is the common case: cheapest first.
            data = np.asarray(data) if isinstance(data, np.number) else _output_arrays(cls, data)
            if type(data) is tuple:
                return _apply_several(cls, ctx, tensors, data, needs_grad)
        if data.dtype is _FLOAT64:  # (NumPy's built-in dtypes are singletons)
            data = _in_input_dtype(cls, data, tensors)
        # A new array gets a new version counter; a view of an input shares the input's.
        version = [0] if data.base is None else _version_of_viewed(data, tensors, ctx)
        if not needs_grad or "non_differentiable" in ctx.__dict__ and \
                id(data) in ctx.non_differentiable:
            return Tensor.__new__(Tensor)._set(data, version=version)
        return Tensor.__new__(Tensor)._set(data, True, None, cls, ctx, tensors, versions, version)


def _plain_index(index):
    """`index` with NumPy arrays for the integer Tensors in it (alone, or in a tuple)."""
    if isinstance(index, Tensor):
        return index.data
    if type(index) is tuple:
        return tuple(part.data if isinstance(part, Tensor) else part for part in index)
    return index


def _input_tensor(op: type, inputs: tuple, value) -> Tensor:
    """A positional input that is not a Tensor: an array or a float constant becomes one."""
    if isinstance(value, (np.ndarray, float, np.floating, list)) and not isinstance(value, bool):
        return Tensor(value)
    position = next(i for i, x in enumerate(inputs) if x is value)
    raise TypeError(
        f"{op.__name__}.apply: positional argument {position} is {type(value).__name__} "
        f"{value!r}; positional arguments are the op's inputs (Tensors or arrays), so pass a "
        f"parameter such as an axis or a flag by keyword: {op.__name__}.apply(x, name=value)"
    )


def _naming_the_op(error: Exception, op: type, tensors: list) -> Exception:
    """`error` again, its message starting with the op's name and ending with the input shapes.

    The same type of exception when it can be made from a message; else `error` itself,
    with a note (Python 3.11+) naming the op.
    """
    message, prefix = str(error), f"{op.__name__}: "
    shapes = ", ".join(str(t.shape) for t in tensors)
    text = f"{'' if message.startswith(prefix) else prefix}{message} (input shapes {shapes})"
    try:
        named = type(error)(text)
        if str(named) == text:
            return named
    except Exception:  # noqa: BLE001 - an exception type that takes other arguments
        pass
    if hasattr(error, "add_note"):
        error.add_note(f"raised by {op.__name__}.forward (input shapes {shapes})")
    return error


def _output_arrays(op: type, data):
    """What `forward` returned as an array, or a tuple of arrays; else a TypeError naming op."""
    if type(data) is tuple:
        return tuple(_output_arrays(op, part) for part in data)
    array = np.asarray(data) if data is not None else None
    if array is None or array.dtype.kind not in "biuf":
        raise TypeError(
            f"{op.__name__}.forward returned {type(data).__name__}"
            f"{'' if array is None else f' of dtype {array.dtype}'}; it must return a numeric "
            "NumPy array (or a tuple of them, for several outputs)"
        )
    return array


def _in_input_dtype(op: type, data: np.ndarray, tensors: list) -> np.ndarray:
    """A float64 result of float32 inputs (a custom op's float64 constant) made float32 again.

    As the built-in ops keep float32 float32; an op that promotes on purpose (`Cast`)
    says `promotes_to_float64 = True`.
    """
    if not op.promotes_to_float64:
        kinds = {t.data.dtype for t in tensors if t.data.dtype.kind == "f"}
        if kinds == {np.dtype(np.float32)}:
            return data.astype(np.float32)
    return data


def _version_of_viewed(data: np.ndarray, tensors: list, ctx: Context) -> list:
    """The version counter of the input `data` is a view of (a new one if none).

    Notes on `ctx` the version the output starts at (see `_refuse_changed_output`).
    """
    for tensor in tensors:
        if np.may_share_memory(data, tensor.data):
            ctx._output_version = tensor._version[0]
            return tensor._version
    return [0]


class _SeveralGradients:
    """The gradients of the outputs of an op with several outputs (None: none came yet)."""

    __slots__ = ("parts",)
    shape = ()  # the shape of the joint node's placeholder data: never summed back

    def __init__(self, parts: list):
        self.parts = parts

    def __add__(self, other: _SeveralGradients) -> _SeveralGradients:
        return _SeveralGradients([b if a is None else a if b is None else a + b
                                  for a, b in zip(self.parts, other.parts)])


class _Output(Function):
    """Output `ctx.index` of an op with several outputs: hands its gradient to the joint node."""

    @staticmethod
    def backward(ctx, grad):
        parts = [None] * ctx.count
        parts[ctx.index] = grad
        return _SeveralGradients(parts)

    backward_graph = backward


_JOINT_OPS = {}


def _joint_op(op: type) -> type:
    """The op of the joint node of `op`'s outputs: calls `op.backward(ctx, *grads)` once."""
    if op not in _JOINT_OPS:
        def backward(ctx, grads):
            return op.backward(ctx, *grads.parts)

        def backward_graph(ctx, grads):
            if op.backward_graph is None:
                raise RuntimeError(
                    f"create_graph=True: {op.__name__} defines no backward_graph, so its "
                    "gradient cannot be differentiated again (see docs/extending.md)"
                )
            ctx.output = tuple(output() for output in ctx.several_outputs)
            return op.backward_graph(ctx, *grads.parts)

        _JOINT_OPS[op] = type(op.__name__, (Function,), {
            "__module__": op.__module__, "backward": staticmethod(backward),
            "backward_graph": staticmethod(backward_graph),
        })
    return _JOINT_OPS[op]


def _apply_several(op: type, ctx: Context, tensors: list, arrays: tuple, needs_grad: bool):
    """The Tensors of an op whose forward returned several arrays, recorded as one node.

    The joint node (placeholder data) carries the op; each output is recorded as an
    `_Output` of it, so backward gathers every output's gradient before calling the
    op's backward once with all of them (None for an output that got none).
    """
    marked = ctx.__dict__.get("non_differentiable", ())
    outputs = []
    if needs_grad:
        joint = Tensor.__new__(Tensor)._set(np.empty(()), True, None, _joint_op(op), ctx,
                                            tensors, [t._version[0] for t in tensors])
    for index, array in enumerate(arrays):
        select = Context()
        version = [0] if array.base is None else _version_of_viewed(array, tensors, select)
        if not needs_grad or id(array) in marked:
            outputs.append(Tensor.__new__(Tensor)._set(array, version=version))
            continue
        select.index, select.count, select.needs_input_grad = index, len(arrays), [True]
        select.saved = ctx  # what the op saved, for the check of outputs changed in place
        outputs.append(Tensor.__new__(Tensor)._set(array, True, None, _Output, select, (joint,),
                                                   [0], version))
    if needs_grad:
        ctx.several_outputs = tuple(weakref.ref(t) for t in outputs)
    return tuple(outputs)


_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_FLOAT64 = np.dtype(np.float64)
_ONES = {}  # (dtype, shape) -> a read-only array of ones: the seed of `loss.backward()`


def _as_array(data, dtype=None) -> np.ndarray:
    """NumPy array for `data`: float32 unless it is already a float64 (or float32) array."""
    if isinstance(data, Tensor):
        data = data.data
    given_as_array = isinstance(data, (np.ndarray, np.generic))
    array = np.asarray(data, dtype=dtype)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor: data must be numeric (bool, int or float), got dtype {array.dtype}"
        )
    if dtype is None and not (given_as_array and array.dtype in _FLOAT_DTYPES):
        array = array.astype(np.float32)
    return array


class Tensor:
    """An n-dimensional array that remembers how it was computed.

    `Tensor(data, requires_grad=False, dtype=None)`: `data` is anything NumPy can
    turn into a numeric array. A float32 or float64 array keeps its dtype; anything
    else (Python numbers and lists, integer arrays) becomes float32 unless `dtype`
    says otherwise. Python scalars mixed into an operation take the tensor's dtype,
    so `t * 2` stays float32.

    Operators: `+ - * / ** @` and unary `-` (each side a Tensor, an array or a number;
    NumPy broadcasting), comparisons `< <= > >= == !=` (boolean tensors, no gradient),
    `+= -= *= /=` (in place, see below). `float(t)`, `int(t)` and `t.item()` for one
    element; `np.asarray(t)` gives the values (read-only, as `t.numpy()`).

    Indexing is NumPy's: ints, slices, None, Ellipsis, boolean masks and integer arrays,
    which may be integer Tensors, also inside a tuple (`logits[np.arange(n), labels]`).
    Basic indexing returns a view (sharing the version counter); an integer array
    that picks an element several times passes it the sum of their gradients.

    Dtypes: a float32 or float64 array keeps its dtype; anything else (Python numbers
    and lists, integer arrays) becomes float32 unless `dtype` says otherwise. Python
    numbers mixed into an operation take the tensor's dtype, so `t * 2` stays float32;
    a float64 array mixed with a float32 tensor gives float64 (NumPy's promotion); a
    custom op whose forward turns float32 inputs into a float64 result (a float64
    constant) has it cast back to float32, as the built-in ops do (`astype` is the way
    to ask for float64). Only float tensors can require grad.

    Change a tensor's values in place with `copy_`, `add_`, `sub_`, `mul_`, `div_`, `+=`,
    `-=`, `*=`, `/=` or `t[index] = values`: each bumps `version` (shared with its views and
    detached copies), and `backward()` refuses to use an op whose saved input or output was
    changed that way after the op recorded it. While grad mode is on, an in-place change of
    a tensor that requires grad (or with values that do) is refused, as in PyTorch: do it
    under `no_grad()` (as optimizers do) or compute a new tensor. `.numpy()` is a read-only
    view; `.data` is the array itself, the unchecked escape hatch.
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "_retains_grad", "_version", "_op",
                 "_ctx", "_inputs", "_input_versions", "__weakref__")
    # Make NumPy hand `ndarray * tensor` to Tensor.__rmul__ instead of looping itself.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        array = _as_array(data, dtype)
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(f"Tensor: requires_grad=True needs a float dtype, got {array.dtype}")
        # Tensor(t) shares t's array, so it shares its version counter too.
        shared = isinstance(data, Tensor) and array is data.data
        self._set(array, bool(requires_grad), name, version=data._version if shared else None)

    def _set(self, data, requires_grad=False, name=None, op=None, ctx=None, inputs=(),
             input_versions=(), version=None) -> Tensor:
        """Fill in every field: the one list of them, for `__init__` and `Function.apply`.

        `_version` is a one-element list, the version counter: shared (the same list)
        by a tensor, its views and its detached copies, as in PyTorch.

        One field a line: `a, b, c, d = w, x, y, z` builds and unpacks a tuple (Python
        3.11), which cost 0.1 µs a tensor (2% of W3).
        """
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self.name = name
        self._retains_grad = False
        self._version = [0] if version is None else version
        self._op = op
        self._ctx = ctx
        self._inputs = inputs
        self._input_versions = input_versions
        return self

    # ----------------------------------------------------------------- properties
    shape = property(lambda self: self.data.shape, doc="The shape of the data.")
    dtype = property(lambda self: self.data.dtype, doc="The NumPy dtype of the data.")
    ndim = property(lambda self: self.data.ndim, doc="The number of dimensions.")
    size = property(lambda self: self.data.size, doc="The number of elements.")
    op = property(lambda self: self._op, doc="The Function that made this tensor, or None.")
    inputs = property(lambda self: self._inputs, doc="The tensors this one was made from.")
    version = property(lambda self: self._version[0],
                       doc="How many in-place updates (`copy_`, `add_`, `+=`...) the data has "
                           "had, counted together with its views and detached copies.")

    @property
    def T(self) -> Tensor:
        """The transpose (all axes reversed)."""
        return self.transpose()

    def numpy(self) -> np.ndarray:
        """The values as a read-only NumPy view (shared, not copied).

        Read-only, so that no write can change what an op saved for backward without
        the version counter seeing it: update a tensor with `copy_`, `add_`, `+=`...
        `.data` is the array itself, the unchecked escape hatch: writing into it is
        never noticed (see docs/autograd.md).
        """
        view = self.data.view()
        view.flags.writeable = False
        return view

    def __array__(self, dtype=None, copy=None):
        # np.asarray(t): the values (read-only unless copied), not an array of 0-d Tensors.
        if copy or (dtype is not None and np.dtype(dtype) != self.data.dtype):
            if copy is False:
                raise ValueError("Tensor.__array__: a copy is needed for the dtype asked for")
            return np.array(self.data, dtype=dtype)
        return self.numpy()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item(): needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no gradient flows back through it).

        It shares this tensor's array and version counter: an in-place change of one
        is a change of the other, and a graph that saved the values notices it.
        """
        return Tensor.__new__(Tensor)._set(self.data, version=self._version)

    def astype(self, dtype) -> Tensor:
        """This tensor converted to `dtype`; the gradient is converted back."""
        return ops.Cast.apply(self, dtype=np.dtype(dtype))

    def retain_grad(self) -> Tensor:
        """Keep `.grad` on this intermediate result after `backward()` (leaves always do)."""
        self._retains_grad = True
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        # As in NumPy and PyTorch, so that `if t == 5:` and `t in tensors` mean what they say.
        if self.data.size != 1:
            raise ValueError(
                f"bool(): the truth value of a tensor of shape {self.shape} is ambiguous; only "
                "a one-element tensor has one (use np.any or np.all on .numpy())"
            )
        return bool(self.data)

    # ---------------------------------------------------------- in-place updates
    # In place means: the same object, the same array, `version` bumped, so that a graph
    # that saved the old values refuses to use them. PyTorch's rules: allowed under
    # `no_grad()` (an optimizer's step) and on a tensor that does not require grad;
    # refused while grad mode is on for a tensor that requires grad (it is a leaf whose
    # change would not be recorded, or a result in a graph whose backward would be
    # wrong), and for values that require grad (their gradient would be lost).
    def copy_(self, values) -> Tensor:
        """Overwrite the data with `values` (broadcast to this shape), in place; returns self."""
        return self._update_in_place(np.copyto, values, "copy_")

    def add_(self, values) -> Tensor:
        """`data += values`, in place, counted in `version`; returns self."""
        return self._update_in_place(np.add, values, "add_")

    def sub_(self, values) -> Tensor:
        """`data -= values`, in place, counted in `version`; returns self."""
        return self._update_in_place(np.subtract, values, "sub_")

    def mul_(self, values) -> Tensor:
        """`data *= values`, in place, counted in `version`; returns self."""
        return self._update_in_place(np.multiply, values, "mul_")

    def div_(self, values) -> Tensor:
        """`data /= values`, in place, counted in `version`; returns self."""
        return self._update_in_place(np.true_divide, values, "div_")

    def __iadd__(self, other):
        return self._update_in_place(np.add, other, "+=")

    def __isub__(self, other):
        return self._update_in_place(np.subtract, other, "-=")

    def __imul__(self, other):
        return self._update_in_place(np.multiply, other, "*=")

    def __itruediv__(self, other):
        return self._update_in_place(np.true_divide, other, "/=")

    def __setitem__(self, index, values) -> None:
        """`t[index] = values`: NumPy's assignment, in place, counted in `version`, under
        the same rules as `copy_` (so `with no_grad(): w[0] = 0`, and `w[0] *= 0.5`, work
        as in PyTorch). An integer Tensor works as an index array, as in `t[index]`."""
        if _grad_mode.enabled and (self.requires_grad or
                                   isinstance(values, Tensor) and values.requires_grad):
            self._refuse_in_place("t[index] =", values)
        index = _plain_index(index)
        try:
            self.data[index] = values.data if isinstance(values, Tensor) else values
        except (ValueError, IndexError, TypeError) as error:
            raise type(error)(f"t[index] = values: {error} (tensor of shape {self.shape})") \
                from None
        self._version[0] += 1

    def _update_in_place(self, update, values, method: str) -> Tensor:
        if _grad_mode.enabled and (self.requires_grad or
                                   isinstance(values, Tensor) and values.requires_grad):
            self._refuse_in_place(method, values)
        values = values.data if isinstance(values, Tensor) else values
        # The common case, an array of this very shape, skips broadcast_shapes (~3 µs a call).
        shape = values.shape if type(values) is np.ndarray else np.shape(values)
        if shape != self.data.shape and not _broadcasts_to(shape, self.data.shape):
            raise ValueError(
                f"{method}: values of shape {np.shape(values)} do not fit a tensor of shape "
                f"{self.shape}"
            )
        if update is np.copyto:
            np.copyto(self.data, values)
        else:
            update(self.data, values, out=self.data)
        self._version[0] += 1
        return self

    def _refuse_in_place(self, method: str, values) -> None:
        operator = {"add_": "+", "sub_": "-", "mul_": "*", "div_": "/"}.get(method, method[:1])
        rewrite = {"copy_": "write `t = values` (a new tensor)",
                   "t[index] =": "build a new tensor (`where(mask, values, t)`, `concatenate`)",
                   }.get(method, f"write `t = t {operator} values` (a new tensor, recorded)")
        if self.requires_grad and self._op is None:
            raise RuntimeError(
                f"{method}: a leaf Tensor that requires grad cannot be changed in place while "
                "grad mode is on (PyTorch: 'a leaf Variable that requires grad is being used "
                "in an in-place operation'); update it under `with no_grad():`, as optimizers "
                f"do, or {rewrite}"
            )
        if self.requires_grad:
            raise RuntimeError(
                f"{method}: this tensor is the result of {self._op.__name__} in a graph that "
                "requires grad; an in-place change would not be differentiated and would "
                f"make backward wrong; {rewrite} instead"
            )
        raise RuntimeError(
            f"{method}: the values require grad, but an in-place update is not "
            f"differentiated, so their gradient would be lost; {rewrite} instead (or "
            "detach() the values)"
        )

    def __repr__(self) -> str:
        values = np.array2string(self.data, precision=4, threshold=20, separator=", ")
        made_by = f", op={self._op.__name__}" if self._op is not None else ""
        grad = ", requires_grad=True" if self.requires_grad else ""
        name = f", name={self.name!r}" if self.name else ""
        return f"Tensor({values}, shape={self.shape}, dtype={self.dtype}{made_by}{grad}{name})"

    # ------------------------------------------------------------------- backward
    def backward(self, grad=None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires it.

        `grad` is the gradient of some final scalar with respect to this tensor; it
        may be left out only when this tensor holds one element (it is then 1).
        The graph is released afterwards unless `retain_graph=True`.

        With `create_graph=True` the chain rule is itself recorded: each `.grad` is
        then a Tensor in a graph of its own, which can be differentiated again (as in
        PyTorch; `retain_graph` then defaults to True). To differentiate a gradient,
        `tinygrad_mnist.grad(...)` is usually handier: it leaves `.grad` alone.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad; create its inputs with "
                "requires_grad=True (and not inside no_grad())"
            )
        if grad is None and not create_graph and self.data.size == 1:
            # The usual `loss.backward()`: a shared, read-only 1, so not private (no op may
            # write into it); making a new one each time was 2% of W3.
            key = (self.data.dtype, self.data.shape)
            one = _ONES.get(key)
            if one is None:
                one = _ONES[key] = np.ones(self.data.shape, self.data.dtype)
                one.flags.writeable = False
            seed = one, False
        else:
            seed = self._seed(grad, "backward()", create_graph)
        retain_graph = create_graph if retain_graph is None else retain_graph
        if create_graph or self._op is None:
            _backpropagate((self,), (seed,), retain_graph, create_graph)
            return
        gradients = _Gradients()  # the usual case, without _backpropagate's generality
        gradients.grads[self] = seed[0]
        if seed[1]:
            gradients.private.add(self)
        gradients.walk(_topological_order((self,)), retain_graph)

    def _seed(self, grad, caller: str, create_graph: bool):
        """`(gradient to start from, whether it is private)` for a backward walk from self."""
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"{caller}: the tensor has shape {self.shape}, not one element; pass the "
                    "gradient of the final scalar with respect to it as "
                    f"{'backward(grad)' if caller == 'backward()' else 'grad_outputs'}"
                )
            # np.array(1).reshape, not np.ones: half the time (0.3 µs, 2% of W3).
            seed, private = np.array(1, dtype=self.data.dtype).reshape(self.data.shape), True
        elif create_graph and isinstance(grad, Tensor):
            seed, private = grad, False  # may itself be part of a graph
        else:
            seed, private = _as_array(grad).astype(self.dtype, copy=False), False
        if seed.shape != self.shape:
            raise ValueError(f"{caller}: grad has shape {seed.shape}, expected {self.shape}")
        if create_graph and not isinstance(seed, Tensor):
            seed = Tensor(seed, dtype=seed.dtype)
        return seed, private

    def _refuse_freed(self) -> None:
        raise RuntimeError(
            f"backward(): the graph through {self._op.__name__} was freed by an earlier "
            "backward(); pass retain_graph=True to the first call to walk it twice"
        )

    def _checked_context(self) -> Context:
        """This result's context, after making sure backward may use it."""
        if self._ctx is None:
            self._refuse_freed()
        versions = self._input_versions
        for tensor, recorded in zip(self._inputs, versions):
            if tensor._version[0] != recorded:
                self._refuse_stale_input()
        if self._version[0]:
            self._refuse_changed_output()
        return self._ctx

    def _refuse_stale_input(self) -> None:
        """Refuse to differentiate through an op whose input was changed in place since."""
        for i, (tensor, recorded) in enumerate(zip(self._inputs, self._input_versions)):
            if tensor._version[0] != recorded:
                what = f"{tensor.name!r}, shape {tensor.shape}" if tensor.name else \
                    f"shape {tensor.shape}"
                raise RuntimeError(
                    f"backward(): {self._op.__name__}'s input {i} ({what}) was modified in "
                    f"place after {self._op.__name__} used it: it is at version "
                    f"{tensor._version[0]}, {self._op.__name__} saw version {recorded}, so what "
                    "it saved is stale. Update tensors after backward(), or run the forward "
                    "pass again"
                )

    def _refuse_changed_output(self) -> None:
        """Refuse an op whose output, which it saved for backward, was changed in place since.

        An op that saved nothing of its output (Add) does not mind, as in PyTorch.
        """
        made_at = self._ctx.__dict__.get("_output_version", 0)  # a view starts where it was
        if self._version[0] == made_at or not _holds_memory_of(self._ctx, self.data):
            return
        raise RuntimeError(
            f"backward(): the output of {self._op.__name__} (shape {self.shape}), which it "
            f"saved for backward, was modified in place after {self._op.__name__} made it (it "
            f"is at version {self._version[0]}, was {made_at}), so its "
            "gradient would be wrong. Change a copy instead (`h = h + 5`, or `h.clone()`), or "
            "run the forward pass again"
        )

    def _accumulate(self, grad, is_private: bool) -> bool:
        """Add `grad` into `.grad`; returns whether the engine may still write into `grad`."""
        if self.grad is not None:
            if type(self.grad) is np.ndarray:
                # (A Tensor `grad`, from create_graph, makes this a new Tensor: its __radd__.)
                self.grad += grad
            else:  # a Tensor made by backward(create_graph=True): a new sum, recorded
                self.grad = self.grad + grad
            return is_private
        if type(grad) is not np.ndarray:  # a Tensor, under create_graph
            self.grad = grad if grad.dtype == self.data.dtype else grad.astype(self.data.dtype)
            return False
        if is_private and grad.dtype == self.data.dtype:
            # No one else holds it, so it becomes `.grad` as it is: saves a copy of every
            # weight's gradient on every step (W1 5% faster: bench.py --without private-gradients).
            self.grad = grad
            return False
        # A copy, which no one else can hold: later gradients add into it.
        self.grad = np.array(grad, dtype=self.data.dtype)
        return is_private

    # ------------------------------------------------------------------ operators
    def _operand(self, other) -> Tensor | np.ndarray:
        """`other` as a tensor, or as an array of this tensor's dtype when it is a plain value.

        (A boolean tensor, say a comparison's result, takes plain values as float32.)
        """
        if isinstance(other, Tensor):
            return other
        dtype = self.data.dtype
        return np.asarray(other, dtype=dtype if dtype.kind == "f" else np.float32)

    def __add__(self, other):
        if not isinstance(other, Tensor):
            other = self._operand(other)
        return ops.Add.apply(self, other)

    def __radd__(self, other):
        if not isinstance(other, Tensor):
            other = self._operand(other)
        return ops.Add.apply(other, self)

    def __sub__(self, other):
        if not isinstance(other, Tensor):
            other = self._operand(other)
        return ops.Sub.apply(self, other)

    def __rsub__(self, other):
        if not isinstance(other, Tensor):
            other = self._operand(other)
        return ops.Sub.apply(other, self)

    def __mul__(self, other):
        if not isinstance(other, Tensor):
            other = self._operand(other)
        return ops.Mul.apply(self, other)

    def __rmul__(self, other):
        if not isinstance(other, Tensor):
            other = self._operand(other)
        return ops.Mul.apply(other, self)

    def __truediv__(self, other):
        if not isinstance(other, Tensor):
            other = self._operand(other)
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other):
        if not isinstance(other, Tensor):
            other = self._operand(other)
        return ops.Div.apply(other, self)

    def __pow__(self, other):
        return ops.Pow.apply(self, self._operand(other))

    def __rpow__(self, other):
        return ops.Pow.apply(self._operand(other), self)

    def __matmul__(self, other):
        return ops.MatMul.apply(self, self._operand(other))

    def __rmatmul__(self, other):
        return ops.MatMul.apply(self._operand(other), self)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __getitem__(self, index):
        """NumPy's indexing; an integer Tensor works as an index array, also inside a tuple.

        Repeated integer indices pick an element several times, and its gradient adds up.
        """
        return ops.GetItem.apply(self, index=_plain_index(index))

    # Comparisons give boolean tensors; no gradient flows through them.
    def _compare(self, other, compare) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(compare(self.data, other), dtype=bool)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    # Defining __eq__ would otherwise make tensors unhashable.
    __hash__ = object.__hash__

    # -------------------------------------------------------------------- methods
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        """Sum over `axis` (an int, a tuple, or None for all)."""
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        """Mean over `axis` (an int, a tuple, or None for all)."""
        return ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        """Maximum over `axis`; tied maxima share the gradient equally."""
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False) -> Tensor:
        """Minimum over `axis`: `-max(-x)`, so tied minima share the gradient too."""
        return -(-self).max(axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims: bool = False) -> Tensor:
        """Index of the maximum over `axis` (of all elements when None): int64, no gradient."""
        return Tensor(np.argmax(self.data, axis=axis, keepdims=keepdims), dtype=np.int64)

    def var(self, axis=None, keepdims: bool = False, correction: int = 1) -> Tensor:
        """Variance over `axis`: squared deviations from the mean, summed, over `n - correction`.

        `correction=1` (Bessel's correction, the unbiased estimate) is PyTorch's default;
        `correction=0` gives NumPy's default, the mean squared deviation.
        """
        mean = self.mean(axis=axis, keepdims=True)
        count = self.size // mean.size  # elements averaged into each mean
        if count - correction <= 0:
            raise ValueError(
                f"var: correction={correction} needs more than {correction} elements along "
                f"axis {axis}, got {count}"
            )
        deviation = self - mean
        return (deviation * deviation).sum(axis=axis, keepdims=keepdims) / (count - correction)

    def std(self, axis=None, keepdims: bool = False, correction: int = 1) -> Tensor:
        """Standard deviation, `sqrt(var(...))` (see `var` for `correction`)."""
        return self.var(axis=axis, keepdims=keepdims, correction=correction).sqrt()

    def exp(self) -> Tensor:
        """e to the power of each element."""
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        """The natural logarithm of each element."""
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        """The square root of each element."""
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        """|x| of each element (gradient `sign(x)`, 0 at 0)."""
        return ops.Abs.apply(self)

    def tanh(self) -> Tensor:
        """The hyperbolic tangent of each element."""
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + exp(-x)) of each element, without overflow at any input."""
        return ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        """max(x, 0) of each element."""
        return ops.ReLU.apply(self)

    def reshape(self, *shape) -> Tensor:
        """The same elements in a new shape: `t.reshape(2, 3)` or `t.reshape((2, 3))`."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> Tensor:
        """Merge axes `start_axis` to `end_axis` (both included) into one; all by default."""
        if self.ndim == 0:
            return self.reshape(1)
        for axis in (start_axis, end_axis):
            if not -self.ndim <= axis < self.ndim:
                raise ValueError(f"flatten: axis {axis} is out of range for shape {self.shape}")
        start, end, shape = start_axis % self.ndim, end_axis % self.ndim, self.shape
        return self.reshape(*shape[:start], int(np.prod(shape[start:end + 1])), *shape[end + 1:])

    def broadcast_to(self, *shape) -> Tensor:
        """This tensor repeated along its size-1 (and new leading) axes to `shape`."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.BroadcastTo.apply(self, shape=shape)

    def unsqueeze(self, axis: int) -> Tensor:
        """A new axis of length 1 at position `axis`."""
        return self.reshape(np.expand_dims(self.data, axis).shape)

    def squeeze(self, axis=None) -> Tensor:
        """Drop axes of length 1: all of them, or those named by `axis` (an int or a tuple)."""
        return self.reshape(np.squeeze(self.data, axis).shape)

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph (the gradient passes straight through)."""
        return ops.Clone.apply(self)

    def transpose(self, *axes) -> Tensor:
        """Permute the axes (reverse them when none are given)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return ops.Transpose.apply(self, axes=axes or None)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """log(softmax(x)) along `axis`, computed stably (no exp of a large number)."""
        return ops.LogSoftmax.apply(self, axis=axis)

    def softmax(self, axis: int = -1) -> Tensor:
        """exp(x) / sum(exp(x)) along `axis`, computed stably."""
        return ops.Softmax.apply(self, axis=axis)

    def logsumexp(self, axis=None, keepdims: bool = False) -> Tensor:
        """log(sum(exp(x))) over `axis`, computed around the maximum so it never overflows."""
        return ops.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def clip(self, min=None, max=None) -> Tensor:
        """Limit values to [min, max]; the gradient is zero where a limit applies."""
        return ops.Clip.apply(self, low=min, high=max)

    def maximum(self, other) -> Tensor:
        """Elementwise maximum with `other` (broadcast); ties share the gradient."""
        return ops.Maximum.apply(self, self._operand(other))

    def where(self, condition, other) -> Tensor:
        """`self` where `condition` holds, else `other` (see also the function `where`)."""
        return where(condition, self, other)


def where(condition, x, y) -> Tensor:
    """Elements of `x` where `condition` is true, else of `y`; gradients flow to both."""
    condition = condition.data if isinstance(condition, Tensor) else condition
    x = x if isinstance(x, Tensor) else Tensor(x)
    return ops.Where.apply(x, x._operand(y), condition=np.asarray(condition, dtype=bool))


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return ops.Concatenate.apply(*tensors, axis=axis)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    return ops.Stack.apply(*tensors, axis=axis)


def _holds_memory_of(ctx, array: np.ndarray) -> bool:
    """Whether anything kept on `ctx` (arrays, tuples of them, an op's context) views `array`."""
    kept = list(vars(ctx).values())
    while kept:
        value = kept.pop()
        if isinstance(value, np.ndarray) and np.may_share_memory(value, array):
            return True
        if isinstance(value, (tuple, list)):
            kept.extend(value)
        elif isinstance(value, Context):
            kept.extend(vars(value).values())
    return False


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    """Whether an array of `shape` broadcasts to `target` without changing it."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


# ------------------------------------------------------------------ the backward walk


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """The gradients of `outputs` with respect to `inputs`, as `torch.autograd.grad`.

    `outputs` and `inputs` are Tensors or sequences of them; `grad_outputs` gives
    the gradient of the final scalar with respect to each output (None: 1, for an
    output of one element). Returns a tuple with one Tensor per input, or None for
    an input no output depends on when `allow_unused=True` (else that is an error).
    `.grad` attributes are left as they are.

    With `create_graph=True` the returned gradients are part of a graph themselves,
    so they can be differentiated again, to any order: every op on the way must
    define `backward_graph` (all the built-in ones do). `retain_graph` (keep the
    graph of `outputs` for another walk) defaults to `create_graph`.
    """
    outputs = _tensor_tuple(outputs, "outputs")
    inputs = _tensor_tuple(inputs, "inputs")
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad(): {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            raise RuntimeError(f"grad(): inputs[{i}] does not require grad, so it has no "
                               "gradient; create it with requires_grad=True")
    for i, tensor in enumerate(outputs):
        if not tensor.requires_grad:
            raise RuntimeError(f"grad(): outputs[{i}] does not require grad: no input of it "
                               "requires grad (or it was made inside no_grad())")
    seeds = [t._seed(g, f"grad(): outputs[{i}]", create_graph)
             for i, (t, g) in enumerate(zip(outputs, grad_outputs))]
    gradients = _backpropagate(outputs, seeds,
                               create_graph if retain_graph is None else retain_graph,
                               create_graph, wanted=set(inputs))
    results = []
    for i, tensor in enumerate(inputs):
        found, private = gradients.get(tensor)
        if found is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad(): inputs[{i}] was not used to compute the outputs; pass "
                    "allow_unused=True to get None for it"
                )
            results.append(None)
        elif isinstance(found, Tensor):
            results.append(found if found.dtype == tensor.dtype else found.astype(tensor.dtype))
        else:
            # Held by an op or a caller unless private: the caller gets an array of its own.
            results.append(Tensor(found if private and found.dtype == tensor.dtype
                                  else np.array(found, dtype=tensor.dtype)))
    return tuple(results)


def _tensor_tuple(tensors, name: str) -> tuple:
    tensors = (tensors,) if isinstance(tensors, Tensor) else tuple(tensors)
    if not tensors:
        raise ValueError(f"grad(): {name} is empty")
    for i, tensor in enumerate(tensors):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"grad(): {name}[{i}] must be a Tensor, got {type(tensor).__name__}")
    return tensors


class _Gradients:
    """The gradients gathered so far in one backward walk, and which of them are *private*.

    A gradient array is private when nothing but the engine holds it: the engine
    made it (a sum of two gradients, one summed back over broadcast axes, the seed 1
    of `loss.backward()`), or an op whose class says `private_gradients = True`
    returned it. Only a private array may be written into: a later gradient added
    into it, kept as a leaf's `.grad` without a copy (without it a W1 epoch took 4-5%
    longer: `bench.py --only W1 --without private-gradients`), masked in place by ReLU
    (`ctx.grad_is_private`). Anything else (a gradient a caller passed, `Add`'s one
    array for two inputs, whatever a custom op returns) is copied before anything is
    added into it. Under `create_graph` the gradients are Tensors, never written into.

    `backward()` (`wanted` None) adds each leaf's gradient into its `.grad` as it
    arrives: sums are sums in any order, so leaves need no turn in the walk.
    `grad()` keeps the gradients of the `wanted` tensors instead.
    """

    __slots__ = ("grads", "private", "wanted")

    def __init__(self, wanted=None):
        self.grads, self.private, self.wanted = {}, set(), wanted

    def add(self, tensor: Tensor, grad, private: bool) -> None:
        """Gather `grad`, a gradient of `tensor` (`walk` does the same, inlined)."""
        if tensor._op is None:
            if self.wanted is None:
                tensor._accumulate(grad, private)
                return
            if tensor not in self.wanted:
                return
        grads = self.grads
        if tensor not in grads:
            grads[tensor] = grad
            if private:
                self.private.add(tensor)
        else:
            grads[tensor] = grads[tensor] + grad  # a new array (or Tensor): private
            self.private.add(tensor)

    def take(self, tensor: Tensor):
        """`(gradient, private)` of a result whose turn has come (gradient None if none came)."""
        if self.wanted is not None and tensor in self.wanted:
            return self.get(tensor)  # kept for grad() to return
        grad = self.grads.pop(tensor, None)
        return grad, grad is not None and tensor in self.private

    def get(self, tensor: Tensor):
        grad = self.grads.get(tensor)
        return grad, grad is not None and tensor in self.private

    def walk(self, order: list, retain_graph: bool) -> None:
        """The first-order walk: each op's `backward` on arrays, in reverse `order`.

        `take` and `add` are written out inline: this loop runs for every op of
        every training step, and a method call per gradient is a tenth of W3.
        """
        grads, private, wanted = self.grads, self.private, self.wanted
        for node in reversed(order):
            if wanted is not None and node in wanted:
                grad = grads.get(node)
            else:
                grad = grads.pop(node, None)
            if grad is None:
                continue
            is_private = node in private
            if node._retains_grad and wanted is None:
                is_private = node._accumulate(grad, is_private)
            op, ctx = node._op, node._ctx  # (pairs: four names at once would build a tuple)
            inputs, versions = node._inputs, node._input_versions
            if ctx is None:
                node._refuse_freed()
            for i, tensor in enumerate(inputs):  # (zip's pairs cost 0.1 µs a node, 2% of W3)
                if tensor._version[0] != versions[i]:
                    node._refuse_stale_input()
            if node._version[0]:  # changed in place since it was made? (a view: maybe)
                node._refuse_changed_output()
            ctx.grad_is_private = is_private
            input_grads = op.backward(ctx, grad)
            if type(input_grads) is not tuple:
                input_grads = tuple(input_grads) if type(input_grads) is list else (input_grads,)
            if len(input_grads) != len(inputs):
                raise ValueError(f"{op.__name__}.backward returned {len(input_grads)} "
                                 f"gradients for {len(inputs)} inputs")
            made_private = op.private_gradients
            for parent, parent_grad in zip(inputs, input_grads):
                if parent_grad is None or not parent.requires_grad:
                    continue
                is_private = made_private
                if type(parent_grad) is not np.ndarray or parent_grad.shape != parent.data.shape:
                    parent_grad, summed = _sum_to_shape(parent_grad, parent.data.shape, op,
                                                        _position(parent, inputs))
                    is_private = is_private or summed
                if parent._op is None:
                    if wanted is None:
                        parent._accumulate(parent_grad, is_private)
                        continue
                    if parent not in wanted:
                        continue
                if parent not in grads:
                    grads[parent] = parent_grad
                    if is_private:
                        private.add(parent)
                else:
                    grads[parent] = grads[parent] + parent_grad
                    private.add(parent)
            if not retain_graph:
                node._ctx, node._inputs, node._input_versions = None, (), ()


def _position(tensor: Tensor, inputs) -> int:
    """Where `tensor` is among an op's inputs (for error messages only)."""
    return next(i for i, t in enumerate(inputs) if t is tensor)


def _backpropagate(roots, seeds, retain_graph: bool, create_graph: bool, wanted=None):
    """The chain rule from `roots` (each with its `(gradient, private)` seed) down the graph.

    Walks the results in reverse topological order, so that a result's gradient is
    complete (every op that used it has passed its part back) when its turn comes.
    Returns the `_Gradients` gathered (what `grad()` reads; see `_Gradients`).
    """
    order = _topological_order(roots)
    if wanted is not None:
        order = _leading_to(order, wanted)
    gradients = _Gradients(wanted)
    for root, (seed, private) in zip(roots, seeds):
        gradients.add(root, seed, private)
    if not create_graph:
        gradients.walk(order, retain_graph)
        return gradients
    with enable_grad():  # backward_graph's Tensor ops record the chain rule itself
        for node in reversed(order):
            _backpropagate_graph_node(node, gradients, retain_graph)
    return gradients


def _backpropagate_graph_node(node: Tensor, gradients: _Gradients, retain_graph: bool) -> None:
    """One step of the walk under `create_graph`: the op's `backward_graph`, recorded."""
    grad, _ = gradients.take(node)
    if grad is None:
        return
    if node._retains_grad and gradients.wanted is None:
        node._accumulate(grad, False)
    op, inputs = node._op, node._inputs
    if op.backward_graph is None:
        raise RuntimeError(
            f"create_graph=True: {op.__name__} defines no backward_graph, so its gradient "
            "cannot be differentiated again; give it a backward_graph(ctx, grad) written with "
            "Tensor ops (see docs/extending.md)"
        )
    ctx = node._checked_context()
    ctx.inputs, ctx.output = inputs, node
    try:
        input_grads = op.backward_graph(ctx, grad)
    finally:
        ctx.inputs = ctx.output = None  # no cycle node -> ctx -> node left behind
    if type(input_grads) is not tuple:
        input_grads = tuple(input_grads) if type(input_grads) is list else (input_grads,)
    if len(input_grads) != len(inputs):
        raise ValueError(f"{op.__name__}.backward_graph returned {len(input_grads)} gradients "
                         f"for {len(inputs)} inputs")
    for i, (parent, parent_grad) in enumerate(zip(inputs, input_grads)):
        if parent_grad is None or not parent.requires_grad:
            continue
        if type(parent_grad) is _SeveralGradients:
            gradients.add(parent, parent_grad, False)
            continue
        if not isinstance(parent_grad, Tensor):
            raise TypeError(
                f"{op.__name__}.backward_graph returned a {type(parent_grad).__name__} for "
                f"input {i}; it must return Tensors made with Tensor ops, so that the engine "
                "records them"
            )
        if parent_grad.shape != parent.shape:
            parent_grad, _ = _sum_to_shape(parent_grad, parent.shape, op, i)
        if parent_grad.dtype != parent.dtype:
            parent_grad = parent_grad.astype(parent.dtype)
        gradients.add(parent, parent_grad, False)
    if not retain_graph:
        node._ctx, node._inputs, node._input_versions = None, (), ()


def _topological_order(roots) -> list[Tensor]:
    """Every result of an op that needs a gradient below `roots`, inputs before results.

    Depth-first with an explicit stack instead of recursion, so a chain of any
    length works: `path` is the way down from a root, and `unvisited` holds, for
    each tensor on it, an iterator over the inputs not looked at yet. A tensor joins
    the order once all its inputs have. Leaves are left out: their gradients are
    gathered as soon as they arrive.
    """
    order, visited = [], set()
    for root in roots:
        if root._op is None or root in visited:
            continue
        visited.add(root)
        path, unvisited = [root], [iter(root._inputs)]
        while path:
            for parent in unvisited[-1]:
                if parent._op is not None and parent.requires_grad and parent not in visited:
                    visited.add(parent)
                    path.append(parent)
                    unvisited.append(iter(parent._inputs))
                    break
            else:
                unvisited.pop()
                order.append(path.pop())
    return order


def _leading_to(order: list, wanted: set) -> list:
    """The results in `order` that have a `wanted` tensor among their inputs, or below them."""
    above_wanted, kept = set(), []
    for node in order:
        # A freed result (its inputs forgotten) is kept, so that the walk reports it.
        if node._ctx is None or any(p in wanted or p in above_wanted for p in node._inputs):
            above_wanted.add(node)
            kept.append(node)
    return kept


def _sum_to_shape(grad, shape: tuple, op: type, index: int):
    """Sum a gradient back over the axes that broadcasting expanded ("unbroadcast").

    Returns the result and whether it is a new one (summed here) rather than `grad`
    itself. Works alike on arrays and, under create_graph, on Tensors (recorded).
    Anything that cannot have come from broadcasting `shape` is a bug in the op's
    backward, reported as such.
    """
    if not hasattr(grad, "shape"):  # a number, a list: what a custom backward may return
        grad = np.asarray(grad)
    if grad.shape == shape:
        return grad, False
    extra = grad.ndim - len(shape)
    if extra < 0 or any(
        n != 1 and n != g for n, g in zip(shape, grad.shape[extra:], strict=True)
    ):
        raise ValueError(
            f"{op.__name__}.backward returned a gradient of shape {grad.shape} for input "
            f"{index} of shape {shape}"
        )
    leading = tuple(range(extra))
    stretched = tuple(extra + i for i, n in enumerate(shape) if n == 1 != grad.shape[extra + i])
    return grad.sum(axis=leading + stretched).reshape(shape), True


# The ops need `Function` and `Tensor` from above; the methods above need the ops.
from tinygrad_mnist import ops  # noqa: E402
