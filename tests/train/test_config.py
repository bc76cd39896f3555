"""RunConfig: one schema, checked once; the model built apart from its training; the run's
holdout split and input layout."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_mnist.train.config import (
    CONFIG_DEFAULTS,
    TRIAL_FIELDS,
    ConfigError,
    RunConfig,
    build_model,
    build_training,
    canonical_config,
    config_key,
)
from tinygrad_mnist.utils.blas import BLAS_THREAD_VARIABLES, blas_on_one_thread


def test_the_model_alone_is_the_model_the_training_builds():
    for config in ({"hidden_sizes": [8]}, {"model": "cnn", "channels": [2], "hidden_sizes": [4],
                                            "batch_norm": True}):
        weights = np.random.SeedSequence(5).spawn(1)[0]  # build_training's first stream
        model = build_model(config, input_shape=(64,), num_classes=3,
                            seed=np.random.default_rng(weights))
        built = build_training(config, 5, input_size=64, num_classes=3)
        assert model.state_dict().keys() == built.model.state_dict().keys()
        for name, array in model.state_dict().items():
            np.testing.assert_array_equal(array, built.model.state_dict()[name], err_msg=name)
    model = RunConfig(hidden_sizes=(8,), seed=4).build_model((64,), num_classes=3)
    assert model.state_dict()["0.weight"].shape == (64, 8)


def test_the_defaults_and_keys_of_trials_are_those_of_before():
    assert list(CONFIG_DEFAULTS) == list(TRIAL_FIELDS)
    assert CONFIG_DEFAULTS["hidden_sizes"] == [256, 128] and CONFIG_DEFAULTS["init"] == "auto"
    # Stored results stay found: the keys the schema of before (train/builders.py) gave.
    assert config_key({"hidden_sizes": [100], "learning_rate": 0.5, "optimizer": "sgd",
                       "batch_size": None}) == "bdc00d1b8e93f8a3"
    assert config_key({"model": "cnn", "channels": [8], "init": "xavier_normal",
                       "min_delta": 0.1}) == "e825bd400b39a22b"
    assert config_key({}) == config_key(CONFIG_DEFAULTS)
    assert config_key({"hidden_sizes": 100}) == config_key({"hidden_sizes": [100]})
    assert canonical_config({"optimizer": "sgd", "momentum": 0.5})["momentum"] == 0.9
    assert canonical_config({"channels": [4]})["channels"] == [16, 32]  # an MLP's: unused


def test_a_trial_dict_with_an_unknown_key_or_a_run_field_is_refused():
    with pytest.raises(ConfigError, match="unknown key 'epoch'"):
        canonical_config({"epoch": 3})
    with pytest.raises(ConfigError, match="unknown key 'seed'"):  # a run's, not a trial's
        canonical_config({"seed": 3})
    with pytest.raises(ConfigError) as caught:
        canonical_config({"kernel_size": "3"})  # a wrong type is bad data
    assert caught.value.field == "kernel_size"


def test_the_holdout_split_and_the_layout_follow_the_config():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(40, 28, 28), dtype=np.uint8)
    labels = np.repeat(np.arange(4), 10)
    (x, y), validation = RunConfig(validation=8).holdout(images, labels)
    assert x.shape == (32, 784) and x.dtype == np.float32 and len(validation[1]) == 8
    assert sorted(np.bincount(validation[1])) == [2, 2, 2, 2]  # stratified
    (x, _), none = RunConfig(validation=0, model="cnn").holdout(images, labels)
    assert none is None and x.shape == (40, 1, 28, 28) and x.max() <= 1.0
    assert RunConfig(model="cnn").input_layout == "nchw" and RunConfig().input_layout == "flat"
    again = RunConfig(validation=8).holdout(images, labels)[1][1]
    np.testing.assert_array_equal(again, validation[1])  # seeded by the config's seed


def test_blas_on_one_thread_unless_the_environment_chose(monkeypatch):
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    for name in BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with blas_on_one_thread(unless_environment_says=True):
        with blas_on_one_thread():  # a second holder: leaving it keeps the limit
            pass
        assert blas_threads() <= {1}
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    with blas_on_one_thread(unless_environment_says=True) as held:
        assert held is None  # nothing done: the user chose


# ------------------------------------- which fields apply to which model (issue 22 §5)
CNN_ONLY = {"channels", "kernel_size", "batch_norm"}


def test_an_mlps_dict_holds_only_the_fields_an_mlp_uses():
    mlp, cnn = RunConfig().to_dict(), RunConfig(model="cnn").to_dict()
    assert CNN_ONLY.isdisjoint(mlp) and CNN_ONLY <= set(cnn)
    assert set(cnn) - set(mlp) == CNN_ONLY
    assert RunConfig.from_dict(mlp) == RunConfig() and RunConfig.from_dict(cnn).model == "cnn"


def test_an_older_dict_with_the_cnn_fields_of_an_mlp_still_reads():
    # What config.json held before: every field, an MLP's CNN ones at whatever was given.
    older = {**RunConfig().to_dict(), "channels": [8], "kernel_size": 3, "batch_norm": True}
    assert RunConfig.from_dict(older) == RunConfig()
    assert RunConfig.from_dict(older).to_dict() == RunConfig().to_dict()


def test_a_field_says_which_models_it_applies_to_and_every_writer_follows():
    import dataclasses

    from tinygrad_mnist.train.config import setting

    @dataclasses.dataclass(frozen=True)
    class Wider(RunConfig):
        pool: int = setting(2, "cnn: the pooling window", lambda name, value: value,
                            models=("cnn",))

    assert "pool" not in Wider(pool=3).to_dict() and Wider(pool=3).pool == 2
    assert Wider(model="cnn", pool=3).to_dict()["pool"] == 3


def test_init_from_is_a_field_of_the_run_kept_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = RunConfig(init_from="runs/first")
    assert config.init_from == str(tmp_path / "runs" / "first")
    assert RunConfig.from_dict(config.to_dict()) == config
    assert RunConfig().to_dict()["init_from"] is None
    assert "init_from" not in TRIAL_FIELDS  # not a trial's: stores and keys unchanged
    with pytest.raises(ConfigError) as caught:
        RunConfig(init_from=3)
    assert caught.value.field == "init_from"
