"""Gradient rank: a cheap signal ranks the blocks, then only the top k are trained.

The signal is each block's *relative gradient norm* (RGN), after surgical
fine-tuning (Lee et al., 2022, "Surgical Fine-Tuning Improves Adaptation to
Distribution Shifts"): train the head on the frozen backbone for a few epochs
(BL1, shortened), then over a few training batches measure, for each block,
``||dL/dθ_b|| / ||θ_b||`` over its trainable weights, averaged over the
batches. Blocks whose weights the task pulls hardest are trained first.

The measurement is one short training run (the head) plus a few
forward/backward passes; it counts as one run and ``head_epochs`` epochs of
the policy's budget. In replay, the signal comes from a real search that
stored it (the ``signal`` in a gradient-rank search record); a table without
one makes the evaluator raise :class:`~blockbench.components.policy.SignalUnavailable`.
Keras and its backend are imported only inside :func:`measure_gradient_norms`, whose
gradients come from the backend's step module (:mod:`blockbench.train.steps`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from blockbench.components.policy import (
    Budget,
    Evaluator,
    Policy,
    PolicyResult,
    SearchSpace,
    Signal,
    best_on_validation,
    check_int,
    evaluate_batch,
    run_limit,
)
from blockbench.core.errors import BlockbenchError
from blockbench.core.spec import block_target
from blockbench.data.preprocessing import preprocess
from blockbench.train.problem import Problem
from blockbench.train.steps import backend_steps

SIGNAL = "gradient-norm"


def measure_gradient_norms(problem: Problem, seed: int, *, head_epochs: int, batches: int) -> Signal:
    """Train the head for ``head_epochs``, then average each block's RGN over ``batches`` batches.

    Gradients are taken in inference mode (dropout off, BatchNormalization on
    its moving statistics), so the measurement does not depend on batch noise
    beyond the data, and nothing in the model changes.
    """
    head = problem.train(problem.spec("bl1", seed, epochs=head_epochs))
    if not head.ok:
        raise BlockbenchError(f"gradient-rank: training the head (seed {seed}) failed: {head.error}")
    finetune = problem.finetune
    layers = {layer.name: layer for layer in finetune.backbone.layers}
    for layer in layers.values():  # prepare_run() of the next run sets these again
        layer.trainable = True
    groups = [[w for name in block.layers for w in layers[name].trainable_weights]
              for block in problem.partition.blocks]
    flat = [w for group in groups for w in group]
    weight_norms = [math.sqrt(sum(float(np.sum(np.square(w.numpy()))) for w in g)) for g in groups]
    x, y = problem.data.x("train"), problem.data.y("train")
    order = np.random.default_rng(seed).permutation(len(x))
    size = int(problem.hparams["batch_size"])
    backend = backend_steps()
    onehot = np.eye(problem.data.n_classes, dtype="float32")
    totals = np.zeros(len(groups))
    used = 0
    for start in range(0, min(batches * size, len(x)), size):
        index = np.sort(order[start:start + size])
        images = preprocess(x[index].astype("float32"), problem.preprocessing)
        squares = backend.gradient_square_sums(finetune.model, images, onehot[y[index]], flat)
        offset = 0
        for i, group in enumerate(groups):
            norm = math.sqrt(sum(squares[offset:offset + len(group)]))
            offset += len(group)
            totals[i] += norm / weight_norms[i] if weight_norms[i] else 0.0
        used += 1
    values = {block_target(i): float(v / max(used, 1)) for i, v in enumerate(totals)}
    return Signal(SIGNAL, {"head_epochs": head_epochs, "batches": batches}, values,
                  runs=1, epochs=head_epochs, anchor=problem.spec(block_target(0), seed).run_hash)


class GradientRank(Policy):
    """Rank blocks by relative gradient norm after a short head training, then train the top k.

    Options:
        k: blocks to train (default: what the budget leaves after the signal's one run).
        head_epochs: epochs of head training before the gradients are measured.
        batches: training batches the gradients are averaged over.
    """

    option_defaults = {"k": None, "head_epochs": 2, "batches": 8}

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        checked = super().check_options(options)
        check_int("gradient-rank", "k", checked["k"], 1, allow_none=True)
        check_int("gradient-rank", "head_epochs", checked["head_epochs"], 1)
        check_int("gradient-rank", "batches", checked["batches"], 1)
        return checked

    def _count(self, space: SearchSpace, budget: Budget, full: int, signal_runs: int,
               signal_epochs: int) -> int:
        """Blocks to train: what the budget leaves after the signal's cost, at most ``k``."""
        left = Budget(
            runs=None if budget.runs is None else budget.runs - signal_runs,
            epochs=None if budget.epochs is None else budget.epochs - signal_epochs,
        )
        limit = run_limit(space, left, full, default=max(len(space.in_quarter(4)) - signal_runs, 0))
        return min(limit, self.options["k"] or limit, space.n_blocks)

    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> int:
        # The signal costs one head training of head_epochs (see measure_gradient_norms).
        return self._count(space, budget, full_epochs, 1, self.options["head_epochs"])

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int) -> PolicyResult:
        signal = evaluator.signal(SIGNAL, measure_gradient_norms,
                                  head_epochs=self.options["head_epochs"], batches=self.options["batches"])
        k = self._count(space, budget, evaluator.full_epochs, signal.runs, signal.epochs)
        # Highest signal first; a tie goes to the deeper block.
        ranked = sorted(range(space.n_blocks), reverse=True,
                        key=lambda i: (signal.values.get(block_target(i), float("-inf")), i))
        observations = evaluate_batch(evaluator, [block_target(i) for i in ranked[:k]])
        info = {"signal": signal.to_dict(), "ranking": [block_target(i) for i in ranked]}
        return PolicyResult(best_on_validation(observations), observations, info)
