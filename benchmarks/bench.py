"""Speed and memory of tinygrad_mnist against hand-written NumPy (and PyTorch if installed).

    python benchmarks/bench.py                 # W1-W5, 7 interleaved repetitions
    python benchmarks/bench.py --only W1,W3 --repeats 9
    python benchmarks/bench.py --train         # + the default `train`: time, accuracy, RSS
    python benchmarks/bench.py --grid          # + the seed's grid with --jobs 1 and --jobs 2
    python benchmarks/bench.py --memory        # + the peak memory of one W2 step
    python benchmarks/bench.py --threads 1     # BLAS on one thread (see below)
    python benchmarks/bench.py --only W1 --without private-gradients   # a fast path's gain
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench.py --only W5 --clock cpu   # CPU seconds
    python benchmarks/bench.py --torch-python /path/to/torchvenv/bin/python   # + PyTorch

Workloads (real MNIST, float32; the data is loaded once, outside the timings):
  W1  MLP 784-128-10 ReLU, softmax cross-entropy, SGD lr 0.1, batch 128: one epoch on 60k
  W2  the same net: one full-batch step on 60k
  W3  (a*b + a).sum().backward() on 4x4 tensors: the engine's own overhead, in microseconds
  W4  MLP 784-1024-1024-10, batch 1024: one epoch on 60k
  W5  CNN conv(1->16, 5x5, pad 2)-ReLU-maxpool 2-conv(16->32, 5x5, pad 2)-ReLU-maxpool 2-
      flatten-dense(1568->10), SGD lr 0.01 momentum 0.9, batch 128: one epoch on 60k
Each workload runs in a process of its own; within it every repetition runs each
implementation once, in turn (alternating who goes first), so that a slow moment of the
machine hits all of them alike; the table shows medians and the ratio project / NumPy.
`--memory` runs one W2 step of each implementation in a fresh process and reports the
most memory it held at once beyond what it held before the step (tracemalloc, which
NumPy reports its arrays to; the data set and the parameters are not counted).
`--threads N` limits BLAS to N threads for every contender alike (default: BLAS's own
choice, all cores). On a 2-core machine that other work shares, a second OpenBLAS thread
waits for a busy core and single products take up to 50 times as long, which drowns the
differences measured here; `tinygrad-mnist train` uses one thread for that reason.
PyTorch runs beside them when it is importable here, or when `--torch-python` names an
interpreter that has it (a separate venv: `python3 -m venv torchvenv && torchvenv/bin/pip
install torch numpy threadpoolctl`; PyTorch is never a dependency of the project). The
workloads' processes then run under that interpreter, with this checkout on PYTHONPATH,
so all three contenders share one process, one NumPy and the same threads
(`torch.set_num_threads` follows `--threads`). W5 also gets its GEMM-only bound: the
seconds its matrix products alone take, each timed at its own shape with NumPy's BLAS
in the same process, times the batches of an epoch.
Timing assertions have no place in the test suite: this script is where speed is measured.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import reference_numpy  # noqa: E402

from tinygrad_mnist import Tensor  # noqa: E402
from tinygrad_mnist.data import load_mnist, prepare_images  # noqa: E402
from tinygrad_mnist.nn import CNN, MLP, CrossEntropyLoss  # noqa: E402
from tinygrad_mnist.optim import SGD  # noqa: E402
from tinygrad_mnist.train.trainer import Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


CLOCKS = {"wall": time.perf_counter,
          # CPU seconds of this process (all its threads): steadier than the wall clock
          # on a shared machine, where other people's work stretches both contenders'
          # wall times unevenly. Use it with one BLAS thread (OPENBLAS_NUM_THREADS=1).
          "cpu": time.process_time}


def _timed(fn, clock=time.perf_counter) -> float:
    start = clock()
    fn()
    return clock() - start


# ------------------------------------------------------------------ the contenders


def project_mlp_epoch(x, y, sizes, batch_size, lr=0.1):
    """A closure running one epoch of this project's Trainer."""
    model = MLP(sizes[0], sizes[1:-1], sizes[-1], activation="relu", seed=0)
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=lr),
                      batch_size=batch_size, seed=0)
    return lambda: trainer.fit((x, y), epochs=1)


def numpy_mlp_epoch(x, y, sizes, batch_size, lr=0.1):
    params = reference_numpy.init_mlp(sizes)
    rng = np.random.default_rng(0)
    return lambda: reference_numpy.train_epoch(params, x, y, lr, batch_size or len(y), rng)


def torch_mlp_epoch(x, y, sizes, batch_size, lr=0.1):
    import torch

    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return _torch_epoch(model, optimizer, x, y, batch_size or len(y))


def project_cnn_epoch(x, y, batch_size=128, lr=0.01):
    """One epoch of this project's Trainer on the W5 CNN (`x` is NCHW)."""
    model = CNN((1, 28, 28), [16, 32], 10, kernel_size=5, seed=0)
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=lr, momentum=0.9),
                      batch_size=batch_size, seed=0)
    return lambda: trainer.fit((x, y), epochs=1)


def numpy_cnn_epoch(x, y, batch_size=128, lr=0.01):
    params = reference_numpy.init_cnn()
    velocities = [np.zeros_like(p) for p in params]
    rng = np.random.default_rng(0)
    return lambda: reference_numpy.cnn_train_epoch(params, velocities, x, y, lr, batch_size, rng)


def torch_cnn_epoch(x, y, batch_size=128, lr=0.01):
    import torch

    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(1568, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return _torch_epoch(model, optimizer, x, y, batch_size)


def _torch_epoch(model, optimizer, x, y, batch):
    """A closure running one epoch of PyTorch's loop, scoring each batch as the others do."""
    import torch

    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def epoch():
        order = torch.randperm(len(ty)) if batch < len(ty) else torch.arange(len(ty))
        for start in range(0, len(ty), batch):
            index = order[start:start + batch]
            optimizer.zero_grad()
            logits = model(tx[index])
            loss = loss_fn(logits, ty[index])
            loss.backward()
            optimizer.step()
            loss.item()
            (logits.argmax(1) == ty[index]).sum().item()

    return epoch


def tiny_expression(kind, iterations=2000):
    rng = np.random.default_rng(0)
    a_data, b_data = (rng.normal(size=(4, 4)).astype(np.float32) for _ in range(2))
    if kind == "project":
        a, b = Tensor(a_data, requires_grad=True), Tensor(b_data, requires_grad=True)

        def step():
            (a * b + a).sum().backward()
    elif kind == "numpy":
        def step():
            reference_numpy.tiny_expression(a_data, b_data)
    else:
        import torch

        a = torch.tensor(a_data, requires_grad=True)
        b = torch.tensor(b_data, requires_grad=True)

        def step():
            (a * b + a).sum().backward()

    def run():
        for _ in range(iterations):
            step()

    return run, iterations


# ------------------------------------------------------------------------ driver


def workloads(x, y, only):
    """name -> (description, unit scale, {implementation: (closure, divisor)})."""
    table = {}
    kinds = ["numpy", "project"] + (["torch"] if _has_torch() else [])
    makers = {"numpy": numpy_mlp_epoch, "project": project_mlp_epoch, "torch": torch_mlp_epoch}
    specs = {
        "W1": ("784-128-10, batch 128, one epoch", [784, 128, 10], 128),
        "W2": ("784-128-10, one full-batch step", [784, 128, 10], None),
        "W4": ("784-1024-1024-10, batch 1024, one epoch", [784, 1024, 1024, 10], 1024),
    }
    for name, (text, sizes, batch) in specs.items():
        if name in only:
            table[name] = (text, "s", {k: (makers[k](x, y, sizes, batch), 1) for k in kinds})
    if "W5" in only:
        cnn_makers = {"numpy": numpy_cnn_epoch, "project": project_cnn_epoch,
                      "torch": torch_cnn_epoch}
        images = x.reshape(-1, 1, 28, 28)  # the NCHW view of the prepared rows
        table["W5"] = ("CNN 2x conv5x5+pool, batch 128, one epoch", "s",
                       {k: (cnn_makers[k](images, y), 1) for k in kinds})
    if "W3" in only:
        table["W3"] = ("(a*b + a).sum().backward(), 4x4", "us",
                       {k: tiny_expression(k) for k in kinds})
    return table


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def run_workloads(only, repeats, clock="wall", threads=None, python=None):
    """One new process per workload: one that ran before leaves the allocator and the
    caches in a state that can slow the next by 10-60%, NumPy's side included.

    `python` (an interpreter with PyTorch) runs those processes instead of this one.
    """
    env = None
    if python:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    kinds = ["numpy", "project"] + (["torch"] if python or _has_torch() else [])
    header = f"{'workload':<44}" + "".join(f"{k:>12}" for k in kinds) + f"{'project/numpy':>15}"
    if "torch" in kinds:
        header += f"{'project/torch':>15}"
    print(f"medians of {repeats} interleaved repetitions, each workload in a new process"
          + (", CPU time" if clock == "cpu" else "")
          + (f", BLAS on {threads} thread(s)" if threads else ""))
    print(header, flush=True)
    for name in ("W3", "W1", "W2", "W4", "W5"):
        if name in only:
            subprocess.run([python or sys.executable, __file__, "--only", name,
                            "--repeats", str(repeats), "--clock", clock, "--in-this-process"]
                           + (["--threads", str(threads)] if threads else []),
                           check=True, env=env)


FAST_PATHS = ("private-gradients",)


def switch_off(fast_path: str) -> None:
    """Undo one of the engine's fast paths in this process, to measure what it earns.

    private-gradients: every op's gradients count as shared and every leaf copies the
    first gradient it receives, as the engine would without the bookkeeping of
    private gradients (tensor.py's `_Gradients`). Measured: a W1 epoch 4-5% slower
    (1.21x -> 1.27x and 1.13x -> 1.18x of NumPy, CPU time, one BLAS thread, load 5).
    """
    from tinygrad_mnist.tensor import Function

    if fast_path == "private-gradients":
        ops, found = [Function], []
        while ops:  # every Function subclass defined so far (all are imported above)
            op = ops.pop()
            found.append(op)
            ops.extend(op.__subclasses__())
        for op in found:
            op.private_gradients = False
        accumulate = Tensor._accumulate
        Tensor._accumulate = lambda self, grad, is_private: accumulate(self, grad, False)
    else:
        raise ValueError(f"--without: unknown fast path {fast_path!r}; known: {FAST_PATHS}")


def measure_in_this_process(only, repeats, clock="wall"):
    """Print the table rows of the workloads in `only`, measured in this process."""
    if os.environ.get("BENCH_WITHOUT"):
        switch_off(os.environ["BENCH_WITHOUT"])
    (x_train, y_train), _ = load_mnist()
    x, y = prepare_images(x_train), y_train.astype(np.int64)
    table = workloads(x, y, only)
    kinds = list(next(iter(table.values()))[2])
    # Within a workload, the contenders take turns.
    for name, (text, unit, contenders) in table.items():
        for run, _ in contenders.values():  # one warm-up run each
            run()
        times = {kind: [] for kind in contenders}
        order = list(contenders.items())
        for repetition in range(repeats):
            # Alternate who goes first, so neither always meets a warm (or cold) cache.
            for kind, (run, divisor) in order if repetition % 2 == 0 else order[::-1]:
                times[kind].append(_timed(run, CLOCKS[clock]) / divisor)
        scale = 1e6 if unit == "us" else 1.0
        medians = {k: statistics.median(v) * scale for k, v in times.items()}
        row = f"{name + ' ' + text + ' (' + unit + ')':<44}"
        row += "".join(f"{medians[k]:>12.3f}" for k in kinds)
        row += f"{medians['project'] / medians['numpy']:>14.2f}x"
        if "torch" in kinds:
            row += f"{medians['project'] / medians['torch']:>14.2f}x"
        print(row, flush=True)
        if name == "W5":
            bound = w5_gemm_bound(len(y), clock)
            line = (f"    W5 GEMM-only bound {bound:.3f} s (its products alone); project / bound "
                    f"{medians['project'] / bound:.2f}x")
            if "torch" in kinds:
                line += f", torch / bound {medians['torch'] / bound:.2f}x"
            print(line, flush=True)


def w5_products(batch=128):
    """The matrix products of one W5 training step as (rows, inner, columns) shapes.

    im2col's: each convolution's forward product, its kernel's gradient and (the second
    only; the first one's input is data) its input's gradient; then the dense layer's.
    """
    shapes = []
    for side, c_in, c_out, need_input in ((28, 1, 16, False), (14, 16, 32, True)):
        pixels, window = batch * side * side, c_in * 25
        shapes += [(pixels, window, c_out), (c_out, pixels, window)]
        if need_input:
            shapes.append((pixels, c_out, window))
    features = 32 * 7 * 7
    shapes += [(batch, features, 10), (features, batch, 10), (batch, 10, features)]
    return shapes


def w5_gemm_bound(images, clock="wall", batch=128, repeats=5):
    """Seconds an epoch of W5 would take if it did its matrix products and nothing else.

    Each product is timed at its own shape (the fastest of `repeats`), in this process
    with its BLAS threads: FLOPs at the rate BLAS reaches on exactly that shape.
    """
    rng = np.random.default_rng(0)
    step = 0.0
    for rows, inner, columns in w5_products(batch):
        a = rng.random((rows, inner), dtype=np.float32)
        b = rng.random((inner, columns), dtype=np.float32)
        step += min(_timed(lambda a=a, b=b: a @ b, CLOCKS[clock]) for _ in range(repeats))
    return step * images / batch


# --------------------------------------------------------- whole-process measurements


def measure_step_memory(kind: str) -> int:
    """Bytes allocated at the peak of one full-batch W2 step of `kind`, beyond what was held.

    A warm-up step first, so that what lives across steps (optimizer state, cached
    arrays) counts as held, as it does for every later step.
    """
    import tracemalloc

    (x_train, y_train), _ = load_mnist()
    x, y = prepare_images(x_train), y_train.astype(np.int64)
    step = (project_mlp_epoch if kind == "project" else numpy_mlp_epoch)(x, y, [784, 128, 10],
                                                                          None)
    step()
    tracemalloc.start()
    held = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - held


def measure_memory():
    """The peak memory of a W2 step, each implementation in a new process."""
    peaks = {}
    for kind in ("numpy", "project"):
        done = subprocess.run([sys.executable, __file__, "--step-memory-of", kind],
                              capture_output=True, text=True, check=True)
        peaks[kind] = int(done.stdout.split()[-1])
    print(f"W2 step peak memory (tracemalloc, beyond data and parameters): hand NumPy "
          f"{peaks['numpy'] / 2**20:.1f} MiB, project {peaks['project'] / 2**20:.1f} MiB, "
          f"ratio {peaks['project'] / peaks['numpy']:.2f}x")


def measure_default_train(repeats: int):
    """Run the default `tinygrad-mnist train` as a new process: seconds, accuracy, peak RSS."""
    load_mnist()  # the cache is filled first: the figure is for cached data
    for i in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "tinygrad_mnist", "train", "--out", out],
                capture_output=True, text=True, cwd=ROOT,
            )
            seconds = time.perf_counter() - start
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            rss, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu_before
            if done.returncode != 0:
                print(done.stderr)
                raise SystemExit(f"train failed with exit status {done.returncode}")
            match = re.search(r"test accuracy[^0-9]*([0-9.]+)\s*%", done.stdout, re.I)
            accuracy = match.group(1) + "%" if match else "?"
            # ru_maxrss is the largest child so far (KiB on Linux): exact for the first run,
            # an upper bound for later ones.
            note = "" if i == 0 or rss > before else " (upper bound)"
            # CPU seconds (user + system) say what a loaded machine's wall clock hides.
            print(f"default train #{i + 1}: {seconds:.1f} s whole process ({cpu:.1f} s of CPU), "
                  f"test accuracy {accuracy}, peak RSS {rss / 1024:.0f} MB{note}")


def measure_grid(jobs=(1, 2), out=ROOT / "runs" / "bench_seed_grid"):
    """The seed's grid (the shipped seed-grid experiment) with each --jobs, each on a fresh store.

    The exports of each run stay in `out/jobs-N/` (report.md holds the results table).
    """
    config = ROOT / "tinygrad_mnist" / "experiments" / "shipped" / "seed-grid.toml"
    seconds = {}
    for n in jobs:
        folder = Path(out) / f"jobs-{n}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tinygrad_mnist", "search", str(config), "--jobs", str(n),
             "--store", str(folder / "results.sqlite"), "--out", str(folder)],
            capture_output=True, text=True, cwd=ROOT,
        )
        seconds[n] = time.perf_counter() - start
        if done.returncode != 0:
            print(done.stderr)
            raise SystemExit(f"search failed with exit status {done.returncode}")
        print(f"seed grid, --jobs {n}: {seconds[n]:.1f} s (exports in {folder})")
    if 1 in seconds:
        for n in jobs[1:]:
            print(f"speed-up --jobs {n} / --jobs 1: {seconds[1] / seconds[n]:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="W1,W2,W3,W4,W5", help="workloads, comma-separated")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="wall time (default) or this process's CPU time")
    parser.add_argument("--train", action="store_true", help="also time the default train")
    parser.add_argument("--train-repeats", type=int, default=1)
    parser.add_argument("--grid", action="store_true", help="also time the seed's grid")
    parser.add_argument("--no-workloads", action="store_true", help="skip W1-W5")
    parser.add_argument("--threads", type=int, help="BLAS threads (default: BLAS's choice)")
    parser.add_argument("--memory", action="store_true",
                        help="also measure the peak memory of a W2 step")
    parser.add_argument("--torch-python", metavar="PYTHON",
                        help="an interpreter with PyTorch installed, to run it beside the others")
    parser.add_argument("--without", choices=FAST_PATHS,
                        help="switch one of the engine's fast paths off (its gain, measured)")
    parser.add_argument("--in-this-process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--step-memory-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.without:
        os.environ["BENCH_WITHOUT"] = args.without  # the workload processes inherit it
        print(f"fast path switched off: {args.without}")
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads, user_api="blas")
        if args.in_this_process and _has_torch():
            import torch

            torch.set_num_threads(args.threads)
    if args.step_memory_of:
        print(measure_step_memory(args.step_memory_of))
        return
    if args.in_this_process:
        measure_in_this_process(set(args.only.split(",")), args.repeats, args.clock)
    elif not args.no_workloads:
        run_workloads(set(args.only.split(",")), args.repeats, args.clock, args.threads,
                      args.torch_python)
    if args.memory:
        measure_memory()
    if args.train:
        measure_default_train(args.train_repeats)
    if args.grid:
        measure_grid()


if __name__ == "__main__":
    main()
