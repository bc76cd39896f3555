"""The experiment toolkit over the training core: grid search with a resumable SQLite result
store, ranking, exports (JSON, CSV, Markdown) and TOML experiment files.

    from tinygrad_mnist.experiments import grid_search, ResultStore
    result = grid_search({"hidden": [[64], [128]], "lr": [0.1, 0.3]}, train, test,
                         store=ResultStore("results.sqlite"), n_jobs=2)

`shipped/` holds the experiment files that ship with the package (`search seed-grid`).
"""

from tinygrad_mnist.experiments.experiment import (
    Experiment,
    experiment_path,
    load_experiment,
    shipped_experiments,
)
from tinygrad_mnist.experiments.export import (
    export_csv,
    export_json,
    export_markdown,
    markdown_report,
)
from tinygrad_mnist.experiments.ranking import kfold_summary, rank, ranking_table, summary_table
from tinygrad_mnist.experiments.search import SearchResult, expand_grid, grid_search
from tinygrad_mnist.experiments.store import ResultStore

__all__ = [
    "expand_grid",
    "Experiment",
    "export_csv",
    "export_json",
    "export_markdown",
    "grid_search",
    "kfold_summary",
    "load_experiment",
    "experiment_path",
    "shipped_experiments",
    "markdown_report",
    "rank",
    "ranking_table",
    "ResultStore",
    "SearchResult",
    "summary_table",
]
