"""One evaluation: `train.evaluation.evaluate`, `Trainer.evaluate` and the app's
`evaluate_model` give the same `Evaluation`; the Trainer is configured by its arguments."""

import numpy as np
import pytest
from support.synthetic import blobs

from tinygrad_mnist import nn, optim
from tinygrad_mnist.app.predict import evaluate_model
from tinygrad_mnist.train import Trainer
from tinygrad_mnist.train.evaluation import Evaluation, evaluate


def trained(eval_batch_size=4096):
    x, y = blobs(n=90)
    model = nn.MLP(8, [8], 3, seed=0)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                      seed=0, eval_batch_size=eval_batch_size)
    trainer.fit((x, y), epochs=2)
    return trainer, x, y


def test_the_three_ways_of_evaluating_give_one_shape_and_the_same_figures():
    trainer, x, y = trained()
    results = [trainer.evaluate((x, y)), evaluate(trainer.model, x, y), evaluate_model(
        trainer.model, x, y), evaluate(trainer.model, x, np.eye(3)[y])]  # one-hot rows too
    assert all(type(result) is Evaluation for result in results)
    for result in results[1:]:
        assert result.loss == pytest.approx(results[0].loss, rel=1e-6)
        assert result.accuracy == results[0].accuracy
        np.testing.assert_array_equal(result.labels, y)
        np.testing.assert_allclose(result.probabilities, results[0].probabilities, rtol=1e-6)
    assert results[0].confusion_matrix().sum() == len(y)
    assert "accuracy=" in repr(results[0]) and "90 examples" in repr(results[0])


def test_a_diverged_model_has_no_accuracy():
    result = Evaluation(loss=float("nan"), probabilities=np.full((2, 3), np.nan),
                        labels=np.array([0, 1]))
    assert result.diverged and np.isnan(result.accuracy)


def test_the_evaluation_chunks_are_a_constructor_argument_and_change_no_result():
    small, x, y = trained(eval_batch_size=7)
    large, _, _ = trained()
    assert small.eval_batch_size == 7
    np.testing.assert_allclose(small.predict_proba(x), large.predict_proba(x), rtol=1e-6)
    assert small.evaluate((x, y)).loss == pytest.approx(large.evaluate((x, y)).loss, rel=1e-6)
    with pytest.raises(ValueError, match="eval_batch_size"):
        Trainer(small.model, nn.CrossEntropyLoss(), small.optimizer, eval_batch_size=0)


def test_the_trainer_predicts_as_the_library_does_refusing_raw_pixels():
    trainer, x, _ = trained()
    with pytest.raises(TypeError, match="uint8 pixels"):
        trainer.predict_proba(np.zeros((2, 8), np.uint8))


@pytest.mark.parametrize("call, name", [
    (lambda model, x: evaluate(model, x, np.zeros(len(x), int), batch_size=True), "batch_size"),
    (lambda model, x: Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), 0.1),
                              eval_batch_size=2.0), "eval_batch_size"),
    (lambda model, x: __import__("tinygrad_mnist.train.metrics").train.metrics.top_k_accuracy(
        [0], [[1.0, 0.0]], k=True), "k"),
])
def test_counts_of_the_wrong_type_are_type_errors_naming_them(call, name):
    # One check (utils.checks.check_int) for every count: a bool is no count.
    with pytest.raises(TypeError, match=name):
        call(nn.MLP(8, [4], 3, seed=0), np.zeros((4, 8), np.float32))
