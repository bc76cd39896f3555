"""The training core: Trainer, callbacks, History, checkpoints, metrics, holdout and k-fold,
and `RunConfig`, the one schema of a run, with the builders that turn one into a model
(`build_model`) and its training (`build_training`).

    from tinygrad_mnist.train import Trainer, EarlyStopping
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                      batch_size=128, callbacks=[EarlyStopping(patience=3)], seed=0)
    history = trainer.fit(train, validation, epochs=20)

Grid search, the result store and exports are the experiment toolkit, one layer up:
`tinygrad_mnist.experiments`. Nothing here imports it (importing the Trainer loads no sqlite3).
"""

from tinygrad_mnist.train.callbacks import (
    Callback,
    CSVLogger,
    DivergenceGuard,
    EarlyStopping,
    EpochLog,
    ModelCheckpoint,
    ProgressBar,
    progress_report,
)
from tinygrad_mnist.train.config import (
    CONFIG_DEFAULTS,
    PRESETS,
    ConfigError,
    RunConfig,
    TrainingSetup,
    build_model,
    build_training,
    canonical_config,
    config_key,
)
from tinygrad_mnist.train.event_log import EventLog
from tinygrad_mnist.train.history import History
from tinygrad_mnist.train.metrics import (
    accuracy,
    confident_mistakes,
    confusion_matrix,
    macro_average,
    per_class_accuracy,
    precision_recall_f1,
    top_k_accuracy,
)
from tinygrad_mnist.train.trainer import Trainer
from tinygrad_mnist.train.validation import KFoldResult, SplitResult, holdout, kfold, trial_seed

__all__ = [
    "accuracy",
    "build_model",
    "build_training",
    "ConfigError",
    "RunConfig",
    "TrainingSetup",
    "Callback",
    "CSVLogger",
    "canonical_config",
    "CONFIG_DEFAULTS",
    "PRESETS",
    "config_key",
    "confident_mistakes",
    "confusion_matrix",
    "macro_average",
    "precision_recall_f1",
    "top_k_accuracy",
    "DivergenceGuard",
    "EarlyStopping",
    "EpochLog",
    "EventLog",
    "History",
    "holdout",
    "kfold",
    "KFoldResult",
    "ModelCheckpoint",
    "per_class_accuracy",
    "ProgressBar",
    "progress_report",
    "SplitResult",
    "Trainer",
    "trial_seed",
]
