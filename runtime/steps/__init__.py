"""The step kinds. Each is one small function, registered next to itself with ``@step(...)``
(``ftc.runtime.steps.spec``): the plan sections and earlier steps it reads, whether it may be
guarded, its version. It takes the executor's ``Context``, writes its outputs into ``ctx.dir``
(atomically) and returns a small summary dict for ``step.json``.

Importing this package imports every step module, which fills the registry; heavy libraries
(torch, transformers, ...) are imported inside the model steps only.
"""

from __future__ import annotations

from ftc.runtime.steps import (  # noqa: F401 - they register their steps
    data_steps,
    distill,
    dpo,
    export,
    final_steps,
    lr_probe,
    model_steps,
    objectives,
    retrieval,
    synthesize,
)
from ftc.runtime.steps.model_steps import GUARD
from ftc.runtime.steps.spec import REGISTRY, StepSpec

# kind -> StepSpec, for the executor.
STEPS: dict[str, StepSpec] = REGISTRY

__all__ = ["STEPS", "GUARD", "StepSpec"]
