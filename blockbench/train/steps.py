"""Compiled epochs kept across the runs of a process, on Keras's backend.

The backend-specific code of training lives in one step module per backend,
:mod:`blockbench.train.steps_tensorflow` and :mod:`blockbench.train.steps_jax`,
which offer the same functions (:data:`STEP_FUNCTIONS`): ``build_steps``
(compiled train and evaluation epochs for a model's trainable set),
``to_device``, ``fit_batches`` (the batches of the Keras-``fit`` mode),
``forward`` (inference in batches, for cached activations),
``gradient_square_sums``, ``is_out_of_memory``, ``on_gpu`` and
``enable_determinism``. :func:`backend_steps` picks the one of the backend
Keras runs on; everything else in the package is backend-neutral Keras.

:class:`StepCache` keeps the compiled functions per (model, trainable layers,
optimizer, batch size, XLA), so runs with the same trainable layers (other
seeds, other policies) never trace again; each run starts from a fresh
optimizer state.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from blockbench.core.backends import check_backend
from blockbench.train import optimizers, steps_jax, steps_tensorflow
from blockbench.train.finetune import FineTuneModel

if TYPE_CHECKING:
    import keras

#: Transform applied inside the compiled program to the gathered inputs of a batch.
Transform = Callable[[list[Any]], list[Any]]

_MODULES = {"tensorflow": steps_tensorflow, "jax": steps_jax}

#: What every step module offers.
STEP_FUNCTIONS = ("build_steps", "to_device", "fit_batches", "forward", "gradient_square_sums",
                  "is_out_of_memory", "on_gpu", "enable_determinism")


def backend_steps() -> ModuleType:
    """The step module of the backend Keras runs on (a one-line error for others)."""
    import keras

    return _MODULES[check_backend(keras.backend.backend())]


class Steps(Protocol):
    """Compiled epochs of one model with fixed trainable variables (any backend)."""

    def reset(self) -> None:
        """Start a run: a fresh optimizer state."""

    def train_epoch(self, arrays: list[Any], labels: Any, order: Any) -> tuple[Any, Any]:
        """(loss sum, hit count) of one epoch over ``order`` (example indices, in order)."""
        ...

    def evaluate(self, arrays: list[Any], labels: Any, order: Any) -> tuple[Any, Any]:
        """(loss sum, per-example hits in the order given) of the examples ``order``."""
        ...


class StepCache:
    """Optimizers and compiled epochs kept across the runs of a process.

    Args:
        max_entries: compiled function sets kept (least recently used dropped first).
    """

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._shared: dict[Hashable, Any] = {}
        self._steps: OrderedDict[Hashable, Steps] = OrderedDict()

    def get(self, finetune: FineTuneModel, model: keras.Model, transform: Transform | None,
            transform_key: Hashable, hparams: Mapping[str, Any]) -> Steps:
        """Steps for ``model`` with the currently trainable layers; the optimizer is reset."""
        trained = tuple(sorted(layer.name for layer in finetune.trained_layers()))
        key = (id(finetune), optimizers.optimizer_key(hparams), id(model), transform_key,
               trained, int(hparams["batch_size"]), bool(hparams.get("xla", False)))
        steps = self._steps.get(key)
        if steps is None:
            steps = backend_steps().build_steps(finetune, model, transform, hparams, self._shared)
            self._steps[key] = steps
            while len(self._steps) > self.max_entries:
                self._steps.popitem(last=False)
        self._steps.move_to_end(key)
        steps.reset()
        return steps
