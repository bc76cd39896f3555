"""Issue 23: the commands added last (predict, evaluate, export, --resume, run folders) keep
the promises the older ones keep. Each test names the issue's item it covers; each failed
on the commit before its fix."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from support.synthetic import blobs

from tinygrad_mnist import nn, optim
from tinygrad_mnist.app.predict import DivergedModelError, classify_files, evaluate_model
from tinygrad_mnist.app.run_folder import (
    check_resumed_data,
    data_record,
    load_run_model,
    prepare_run_folder,
    run_folder_lock,
    write_config,
)
from tinygrad_mnist.data.by_name import synthetic_digits
from tinygrad_mnist.train import Trainer
from tinygrad_mnist.train.config import RunConfig
from tinygrad_mnist.utils.atomic import atomic_write, atomic_write_text


# ------------------------------------------------------------------ helpers
def save_run(folder, config=None, model_changes=None, **files):
    """A run folder as `train` leaves it (no training: the weights are the initial ones);
    `model_changes(state)` edits the weights before they are saved; `files` adds JSON files."""
    config = config or RunConfig(hidden_sizes=(8,), dataset="synthetic")
    folder.mkdir(parents=True, exist_ok=True)
    built = config.build()
    if model_changes is not None:
        state = built.model.state_dict()
        model_changes(state)
        built.model.load_state_dict(state)
    built.model.save(folder / "model.npz")
    write_config(folder, config)
    for name, content in files.items():
        (folder / f"{name}.json").write_text(json.dumps(content))
    return folder


def png(path, pixels):
    from PIL import Image

    Image.fromarray(np.asarray(pixels, np.uint8)).save(path)
    return path


def digit_png(tmp_path):
    image = np.zeros((28, 28), np.uint8)
    image[6:22, 12:16] = 255
    return png(tmp_path / "one.png", image)


# ------------------------------------------------- item 2: train --out DIR
@pytest.mark.parametrize("name", ["report.md", "history.json", "metrics.json",
                                  "confusion_matrix.png", "learning_curves.png", "data.json"])
def test_item2_a_folder_holding_a_file_the_run_writes_is_refused(tmp_path, name):
    (tmp_path / name).write_text("the user's own file")
    with pytest.raises(ValueError, match=f"already holds {name}"):
        prepare_run_folder(tmp_path)
    assert (tmp_path / name).read_text() == "the user's own file"


def test_item2_a_folder_of_other_files_is_fine(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    assert prepare_run_folder(tmp_path) == tmp_path


# ------------------------------------------- item 3: diverged or damaged models
def test_item3_a_nan_array_in_model_npz_is_refused_at_load_naming_it(tmp_path):
    folder = save_run(tmp_path / "run", model_changes=lambda s: s["2.bias"].fill(np.nan))
    with pytest.raises(ValueError, match=r"is damaged: array '2\.bias' holds NaN") as error:
        load_run_model(folder)
    assert not isinstance(error.value, DivergedModelError)
    folder = save_run(tmp_path / "inf", model_changes=lambda s: s["0.weight"].flat.__setitem__(
        0, np.inf))
    with pytest.raises(ValueError, match=r"array '0\.weight' holds infinite"):
        load_run_model(folder)


def test_item3_a_run_whose_history_says_diverged_is_a_diverged_model(tmp_path):
    folder = save_run(tmp_path / "run", model_changes=lambda s: s["0.weight"].fill(np.nan),
                      history={"stopped_reason": "diverged"})
    with pytest.raises(DivergedModelError, match="diverged"):
        load_run_model(folder)


def test_item3_a_negative_or_nan_batchnorm_variance_is_refused(tmp_path):
    config = RunConfig(model="cnn", channels=(2,), hidden_sizes=(4,), batch_norm=True,
                         dataset="synthetic")
    name = next(n for n in config.build(input_shape=(1, 28, 28)).model.state_dict()
                if n.endswith("running_var"))

    def negative(state):
        state[name][0] = -1.0

    folder = save_run(tmp_path / "run", config, negative)
    with pytest.raises(ValueError, match=f"array '{name}' .*negative"):
        load_run_model(folder)


def test_item3_outputs_that_are_not_finite_are_diverged_in_predict_and_evaluate(tmp_path):
    model = nn.Sequential(nn.Dense(784, 4), nn.ReLU(), nn.Dense(4, 10))
    model[0].weight.data[...] = 3e38  # finite weights, overflowing outputs
    with pytest.raises(DivergedModelError, match="diverged"):
        classify_files(model, [digit_png(tmp_path)])
    with pytest.raises(DivergedModelError, match="diverged"):
        evaluate_model(model, np.ones((3, 784), np.float32), np.array([0, 1, 2]))


# ------------------------------------------------ item 4: resume's data
def test_item4_resumed_data_must_be_the_data_the_run_began_with(tmp_path):
    data = synthetic_digits(n_train=40, n_test=20)
    record = data_record(data, "synthetic")
    check_resumed_data(tmp_path, record, data, "synthetic")  # the same: fine
    other = synthetic_digits(n_train=40, n_test=20, seed=1)
    with pytest.raises(ValueError, match="now holds other data"):
        check_resumed_data(tmp_path, record, other, "synthetic")
    assert data_record(data, "mine.npz")["path"] == str((tmp_path / "x").parent.cwd()
                                                        / "mine.npz")


# ------------------------------------------- item 15: a CNN without convolutions
def test_item15_a_cnn_without_channels_is_refused_up_front(tmp_path):
    with pytest.raises(ValueError, match="channels.*at least one convolution"):
        RunConfig(model="cnn", channels=())
    folder = tmp_path / "run"
    folder.mkdir()
    config = RunConfig(model="cnn", dataset="synthetic").to_dict()
    (folder / "model.npz").write_bytes(b"")
    (folder / "config.json").write_text(json.dumps({**config, "channels": []}))
    with pytest.raises(ValueError, match="config.json.*at least one convolution"):
        load_run_model(folder)


# ------------------------------------ item 16: metrics.json of another model
def test_item16_class_names_that_do_not_fit_the_model_are_refused_at_load(tmp_path):
    folder = save_run(tmp_path / "run", metrics={"class_names": ["a", "b", "c"]})
    with pytest.raises(ValueError, match="metrics.json' names 3 classes, but the model scores 10"):
        load_run_model(folder)


# ------------------------------------------------ item 17: tampered checkpoints
X, Y = blobs(n=120, seed=3)


def small_trainer(checkpoint=None):
    model = nn.Sequential(nn.Dense(8, 8, seed=0), nn.ReLU(), nn.Dropout(0.2, seed=1),
                          nn.Dense(8, 3, seed=2))
    opt = optim.SGD(model.parameters(), lr=0.1)
    from tinygrad_mnist.train import EarlyStopping

    return Trainer(model, nn.CrossEntropyLoss(), opt, batch_size=32, seed=4,
                   scheduler=optim.CosineLR(opt, total_epochs=6),
                   callbacks=[EarlyStopping(patience=3)], checkpoint=checkpoint)


def tamper(path, change):
    with np.load(path) as archive:
        state = dict(archive)
    meta = json.loads(str(state["meta"]))
    change(meta)
    state["meta"] = np.array(json.dumps(meta))
    np.savez(path, **state)


@pytest.mark.parametrize("change", [
    lambda m: m.update(stop_reason=42),
    lambda m: m.update(stop_reason="no such reason!"),
    lambda m: m["history"].update(train_loss=["x", 1]),
    lambda m: m["history"].update(train_loss=[0.5]),  # fewer epochs than recorded
    lambda m: m["history"].update(best_epoch=99),
    lambda m: m["generators"]["trainer.rng"].update(state="garbage"),
    lambda m: m["generators"]["trainer.rng"].update(bit_generator="NoSuchGenerator"),
    lambda m: m.update(scheduler={"epoch": "three", "base_lr": 0.1}),
    lambda m: m.update(scheduler={"base_lr": 0.1}),
    lambda m: m["callbacks"].update({"EarlyStopping.0": {"best": 1.0}}),
    lambda m: m.update(epochs="2"),
], ids=["reason-type", "reason-word", "history-value", "history-length", "best-epoch",
        "generator-state", "generator-kind", "scheduler-value", "scheduler-key",
        "callback-state", "epochs-type"])
def test_item17_a_tampered_checkpoint_is_damaged_and_changes_nothing(tmp_path, change):
    path = tmp_path / "checkpoint.npz"
    small_trainer(path).fit((X, Y), validation=(X[:30], Y[:30]), epochs=2)
    tamper(path, change)
    trainer = small_trainer()
    before = trainer.state_dict()
    with pytest.raises(ValueError, match=f"checkpoint '{path}' is damaged"):
        trainer.load_checkpoint(path)
    after = trainer.state_dict()
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


# ------------------------------------------ item 18: errors name the user's path
def test_item18_write_errors_name_the_users_file_not_the_hidden_one(tmp_path):
    target = tmp_path / "nodir" / "m.onnx"
    with pytest.raises(FileNotFoundError) as error:
        atomic_write_text(target, "x")
    assert error.value.filename == str(target) and ".part" not in str(error.value)

    with pytest.raises(OSError) as error, atomic_write(tmp_path / "m.bin"):
        raise OSError(28, "No space left on device")  # what a write on a full disk raises
    assert error.value.filename == str(tmp_path / "m.bin")
    assert error.value.strerror == "No space left on device"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


# ----------------------------------------- also: the run folder's lock, .part files
def test_a_run_folder_is_locked_and_its_stale_partial_files_are_removed(tmp_path):
    stale = tmp_path / ".checkpoint.npz.1234.abcd1234.part"
    stale.write_bytes(b"x" * 100)
    with run_folder_lock(tmp_path):
        assert not stale.exists()
        with pytest.raises(ValueError, match="in use by another process"):
            with run_folder_lock(tmp_path):
                pass
    with run_folder_lock(tmp_path):  # released
        pass


# ------------------------------------------------ also: BatchNorm and a NaN batch
def test_one_nan_batch_leaves_batchnorm_running_statistics_finite():
    layer = nn.BatchNorm1d(3)
    layer(np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32))
    mean, var = layer.running_mean.copy(), layer.running_var.copy()
    bad = np.ones((8, 3), np.float32)
    bad[0, 1] = np.nan
    layer(bad)
    np.testing.assert_array_equal(layer.running_mean, mean)
    np.testing.assert_array_equal(layer.running_var, var)


# -------------------------------------------------- item 11: a huge grid
def test_item11_a_huge_grid_is_counted_and_refused_before_it_is_expanded(tmp_path):
    from tinygrad_mnist.experiments import load_experiment
    from tinygrad_mnist.experiments.search import MAX_GRID_SIZE, expand_grid

    space = {"learning_rate": [0.01 * (i + 1) for i in range(200)],
             "epochs": list(range(1, 101)), "hidden_sizes": [[8], [16]]}  # 40,000
    with pytest.raises(ValueError, match=f"40,000 configurations .* limit of {MAX_GRID_SIZE:,}"):
        expand_grid(space)
    (tmp_path / "big.toml").write_text(
        "[grid]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in space.items()) + "\n")
    with pytest.raises(ValueError, match="big.toml: space: the grid holds 40,000"):
        load_experiment(tmp_path / "big.toml")


# ------------------------------------- item 13: store rows of an older version
def stored_row(trial_id, config, **changes):
    return {"trial_id": trial_id, "experiment": "e1", "key": trial_id, "phase": "holdout",
            "fold": None, "split": "holdout 0.8", "search_seed": 0, "trial_seed": 1,
            "data_id": "d", "config": config, "status": "ok", "error": None,
            "train_loss": 0.1, "train_accuracy": 0.9, "val_loss": 0.2, "val_accuracy": 0.8,
            "test_loss": 0.3, "test_accuracy": 0.7, "epochs_run": 3, "best_epoch": 2,
            "seconds": 1.5, "history": None, **changes}


# ------------------------------------------- item 14: the Dask scheduler dies
def test_item14_a_lost_dask_cluster_is_one_error_and_keeps_the_finished_trials(
        tmp_path, monkeypatch):
    import joblib

    from tinygrad_mnist.experiments import ResultStore, grid_search
    from tinygrad_mnist.experiments.search import WorkerDiedError

    FutureCancelledError = type("FutureCancelledError", (Exception,), {})
    real = joblib.Parallel

    class ParallelUntilTheSchedulerDies(real):
        def __call__(self, calls):
            results = super().__call__(calls)

            def generate():
                yield next(iter(results))  # one trial finishes, then the scheduler dies
                raise FutureCancelledError("lost the scheduler")

            return generate()

    monkeypatch.setattr(joblib, "Parallel", ParallelUntilTheSchedulerDies)
    x, y = blobs(n=120, seed=1)
    with pytest.raises(WorkerDiedError, match=r"Dask cluster went away .*1 finished trial"):
        grid_search({"hidden_sizes": [[4], [8]], "epochs": [1]}, (x, y),
                    store=tmp_path / "s.sqlite", top_n=0)
    with ResultStore(tmp_path / "s.sqlite") as store:
        assert len(store) == 1


# ------------------------------------------- item 10: a service that is not Dask
@pytest.fixture
def tcp_service():
    """Start a TCP server on 127.0.0.1 that answers every connection with `reply` (None:
    it reads and never answers, as an HTTP server waiting for a request does)."""
    import socket
    import threading

    servers = []

    def start(reply):
        server = socket.create_server(("127.0.0.1", 0))
        server.settimeout(0.2)
        stop = threading.Event()

        def serve():
            held = []
            while not stop.is_set():
                try:
                    connection, _ = server.accept()
                except OSError:
                    continue
                held.append(connection)
                if reply is not None:
                    connection.sendall(reply)
            for connection in held:
                connection.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        servers.append((server, stop, thread))
        return f"tcp://127.0.0.1:{server.getsockname()[1]}"

    yield start
    for server, stop, thread in servers:
        stop.set()
        thread.join(5)
        server.close()


@pytest.mark.parametrize("reply, fragment", [
    (None, "no Dask handshake within 1 s"),
    (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "it answered 'HTTP/1.1'"),
    (b"\xff" * 64, "not a Dask handshake"),
    (b"\x10\x00\x00\x00\x00\x00\x00\x00abc", "not a Dask scheduler"),  # then silence
], ids=["silent", "http", "garbage", "short"])
def test_item10_a_service_that_is_not_a_dask_scheduler_is_named_in_bounded_time(
        tcp_service, reply, fragment):
    import time

    from tinygrad_mnist.experiments.dask_scheduler import SchedulerError, check_scheduler

    address = tcp_service(reply)
    start = time.monotonic()
    with pytest.raises(SchedulerError, match="is not a Dask scheduler") as error:
        check_scheduler(address, timeout=1)
    assert time.monotonic() - start < 15  # timeout=1; loose for a busy machine
    assert fragment in str(error.value) and address in str(error.value)


def test_item10_connect_scheduler_is_bounded_and_names_the_address(tcp_service):
    import time

    from tinygrad_mnist.experiments.dask_scheduler import SchedulerError, connect_scheduler

    address = tcp_service(None)
    start = time.monotonic()
    with pytest.raises(SchedulerError, match="is not a Dask scheduler"):
        connect_scheduler(address, timeout=1)
    assert time.monotonic() - start < 15  # timeout=1; loose for a busy machine
    with pytest.raises(SchedulerError, match="expected tcp://HOST:PORT"):
        connect_scheduler("tcp://127.0.0.1:http")


@pytest.mark.slow  # starts a real Dask scheduler (in this process)
def test_item10_a_real_dask_scheduler_passes_the_check():
    from distributed import LocalCluster

    from tinygrad_mnist.experiments.dask_scheduler import check_scheduler, connect_scheduler

    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        check_scheduler(cluster.scheduler_address, timeout=5)
        with connect_scheduler(cluster.scheduler_address, timeout=5) as client:
            assert client.scheduler_info()["address"] == cluster.scheduler_address


# ----------------------------------------------- item 1: export over a file
def test_item1_export_refuses_every_path_but_an_earlier_export(tmp_path):
    from tinygrad_mnist.app.onnx_export import export_onnx

    model = nn.Sequential(nn.Dense(784, 4, seed=0), nn.ReLU(), nn.Dense(4, 10, seed=1))
    folder = save_run(tmp_path / "run")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "notes.onnx").write_text("the user's notes")
    (tmp_path / "link.onnx").symlink_to(tmp_path / "elsewhere.onnx")
    refused = {folder / "config.json": "already exists and is not an earlier onnx",
               folder / "model.npz": "already exists and is not an earlier onnx",
               tmp_path / "notes.onnx": "already exists and is not an earlier onnx",
               tmp_path / "fifo": "not a regular file",
               tmp_path / "link.onnx": "not a regular file",
               folder: "is a folder",
               tmp_path / "nodir" / "m.onnx": "no such folder"}
    before = {path: path.read_bytes() for path in (folder / "config.json",
                                                   folder / "model.npz")}
    for path, fragment in refused.items():
        with pytest.raises(ValueError, match=fragment) as error:
            export_onnx(model, path)
        assert repr(str(path)) in str(error.value) and ".part" not in str(error.value)
    assert {path: path.read_bytes() for path in before} == before
    assert (tmp_path / "notes.onnx").read_text() == "the user's notes"
    assert not (tmp_path / "elsewhere.onnx").exists()
    export_onnx(model, tmp_path / "m.onnx")
    export_onnx(model, tmp_path / "m.onnx")  # an earlier export is replaced
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


# ------------------------------------------- also: report on an empty file
def test_a_reader_never_writes_a_store_schema_into_an_empty_file(tmp_path):
    from tinygrad_mnist.experiments import ResultStore
    from tinygrad_mnist.experiments.ranking import rows_of
    from tinygrad_mnist.experiments.store import StoreError

    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(StoreError, match="empty.sqlite is an empty file, not a result store"):
        ResultStore(empty, create=False)
    with pytest.raises(StoreError, match="empty file"):
        rows_of(empty)
    assert empty.read_bytes() == b""
    with pytest.raises(StoreError, match="does not exist"):
        ResultStore(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()


# --------------------------------------- also: file names printed escaped
def test_file_names_are_printed_with_control_characters_escaped():
    from tinygrad_mnist.utils.terminal import printable

    assert printable("a\nb\x1b[31m.png") == "a\\nb\\x1b[31m.png"
    assert printable("digit ü 7.png") == "digit ü 7.png"


# ----------------------------------------------- item 1 and 18: kfold --out FILE
def test_item1_kfold_out_replaces_only_an_earlier_summary(tmp_path):
    from tinygrad_mnist.app.kfold_summary import (
        FORMAT,
        check_kfold_path,
        is_kfold_summary,
        write_kfold_summary,
    )

    folder = save_run(tmp_path / "run")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "notes.json").write_text('{"mine": 1}')
    refused = {folder / "model.npz": "already exists and is not an earlier out",
               folder / "config.json": "already exists and is not an earlier out",
               tmp_path / "notes.json": "already exists and is not an earlier out",
               tmp_path / "fifo": "not a regular file",
               folder: "is a folder",
               tmp_path / "run" / "model.npz" / "x.json": "Not a directory"}
    for path, fragment in refused.items():
        with pytest.raises(ValueError, match=fragment) as error:
            check_kfold_path(path)
        assert repr(str(path)) in str(error.value)
    summary = tmp_path / "deeper" / "k.json"  # missing folders are made
    check_kfold_path(summary)
    write_kfold_summary(summary, {"format": FORMAT, "k": 2})
    assert is_kfold_summary(summary)
    write_kfold_summary(summary, {"format": FORMAT, "k": 3})  # an earlier summary: replaced
    assert json.loads(summary.read_text())["k"] == 3


# ------------------------------------- items 5 and 19: a CNN's own image size
def cnn_run(folder, side, blocks, with_shapes_file=True):
    """A CNN run folder for `side`-pixel images, as `train` writes it (no training)."""
    config = RunConfig(model="cnn", channels=(2,) * blocks, hidden_sizes=(4,),
                         batch_norm=False, dataset="synthetic")
    model = config.build_model((1, side, side))
    folder.mkdir(parents=True)
    write_config(folder, config)
    model.save(folder / "model.npz")
    if with_shapes_file:
        (folder / "model.json").write_text(json.dumps({"input_shape": [1, side, side],
                                                       "num_classes": 10}))
    return folder


@pytest.mark.parametrize("blocks", [3, 4])
@pytest.mark.parametrize("with_shapes_file", [True, False], ids=["model.json", "older-run"])
def test_item5_onnx_export_declares_the_image_size_the_cnn_was_trained_on(
        tmp_path, blocks, with_shapes_file):
    import onnx

    from tinygrad_mnist.app.onnx_export import export_onnx

    model, _ = load_run_model(cnn_run(tmp_path / "run", 28, blocks, with_shapes_file))
    export_onnx(model, tmp_path / "m.onnx")
    declared = onnx.load(tmp_path / "m.onnx").graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in declared[1:]] == [1, 28, 28]


@pytest.mark.parametrize("side", [20, 32])
def test_item19_a_cnn_for_another_image_size_says_so_in_predict(tmp_path, side):
    model, _ = load_run_model(cnn_run(tmp_path / "run", side, 2))
    with pytest.raises(ValueError, match=f"trained on {side}x{side} images.*are 28x28"):
        classify_files(model, [digit_png(tmp_path)])
