"""Training and experiments: Trainer, callbacks, History, metrics, holdout and k-fold,
grid search with a resumable SQLite result store, exports and TOML experiment files.

    from tinygrad_mnist.train import Trainer, EarlyStopping
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                      batch_size=128, callbacks=[EarlyStopping(patience=3)], seed=0)
    history = trainer.fit(train, validation, epochs=20)
"""

from tinygrad_mnist.train.builders import (
    CONFIG_DEFAULTS,
    PRESETS,
    TrainingSetup,
    build_from_config,
    canonical_config,
    config_key,
)
from tinygrad_mnist.train.callbacks import (
    Callback,
    DivergenceGuard,
    EarlyStopping,
    EpochLog,
    ModelCheckpoint,
    ProgressBar,
    progress_report,
)
from tinygrad_mnist.train.event_log import EventLog
from tinygrad_mnist.train.experiment import Experiment, load_experiment
from tinygrad_mnist.train.export import export_csv, export_json, export_markdown, markdown_report
from tinygrad_mnist.train.history import History
from tinygrad_mnist.train.metrics import (
    accuracy,
    confident_mistakes,
    confusion_matrix,
    per_class_accuracy,
)
from tinygrad_mnist.train.ranking import kfold_summary, rank, ranking_table, summary_table
from tinygrad_mnist.train.search import SearchResult, expand_grid, grid_search
from tinygrad_mnist.train.store import ResultStore
from tinygrad_mnist.train.trainer import Trainer
from tinygrad_mnist.train.validation import KFoldResult, SplitResult, holdout, kfold, trial_seed

__all__ = [
    "accuracy",
    "build_from_config",
    "TrainingSetup",
    "Callback",
    "canonical_config",
    "CONFIG_DEFAULTS",
    "PRESETS",
    "config_key",
    "confident_mistakes",
    "confusion_matrix",
    "DivergenceGuard",
    "EarlyStopping",
    "EpochLog",
    "EventLog",
    "expand_grid",
    "Experiment",
    "export_csv",
    "export_json",
    "export_markdown",
    "grid_search",
    "History",
    "holdout",
    "kfold",
    "kfold_summary",
    "KFoldResult",
    "load_experiment",
    "markdown_report",
    "ModelCheckpoint",
    "per_class_accuracy",
    "ProgressBar",
    "progress_report",
    "rank",
    "ranking_table",
    "ResultStore",
    "SearchResult",
    "SplitResult",
    "summary_table",
    "Trainer",
    "trial_seed",
]
