"""Figures, drawn with matplotlib and never shown: each function returns a `Figure`.

Every function also takes `path=` to save a PNG there. Nothing here touches pyplot's
global state, so the figures work headless, in threads and in tests.
"""

from tinygrad_mnist.viz._common import save_figure
from tinygrad_mnist.viz.compare import plot_runs_compared
from tinygrad_mnist.viz.confusion import plot_confusion_matrix
from tinygrad_mnist.viz.curves import plot_learning_curves
from tinygrad_mnist.viz.framing import plot_framed_inputs
from tinygrad_mnist.viz.graph_figure import draw_graph
from tinygrad_mnist.viz.heatmap import plot_search_heatmap
from tinygrad_mnist.viz.predictions import plot_predictions
from tinygrad_mnist.viz.saliency import plot_saliency, saliency_maps
from tinygrad_mnist.viz.true_vs_predicted import plot_true_vs_predicted

__all__ = [
    "draw_graph",
    "plot_confusion_matrix",
    "plot_framed_inputs",
    "plot_learning_curves",
    "plot_predictions",
    "plot_runs_compared",
    "plot_saliency",
    "plot_search_heatmap",
    "plot_true_vs_predicted",
    "saliency_maps",
    "save_figure",
]
