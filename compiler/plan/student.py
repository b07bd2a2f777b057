"""A student cut from the base (``distill { student_layers = ... }``, R-STUDENT-LAYERS): which
decoder layers it keeps, and its facts (the base's with fewer layers), for the bounds, the memory
model and the estimates. The runtime builds it from the same indices (``ftc.runtime.student``)."""

from __future__ import annotations

import dataclasses

from ftc.compiler.plan.facts import ModelFacts


class StudentError(ValueError):
    """The asked layers do not make a smaller model of this base (the planner's FTR327)."""


def kept_layers(total: int, asked: int | tuple[int, ...]) -> tuple[int, ...]:
    """The kept layer indices: ``asked`` itself (a list), or ``asked`` layers evenly spaced over
    ``total`` with the first and the last kept (a count): the input and output layers matter most
    to a shortened model (Men et al. 2024, ShortGPT; Kim et al. 2024, Shortened LLaMA)."""
    if isinstance(asked, tuple):
        outside = [i for i in asked if i >= total]
        if outside:
            raise StudentError(f"layer {outside[0]} does not exist: the base has layers 0 to {total - 1}")
        if len(asked) >= total:
            raise StudentError(f"the list keeps all {total} layers of the base: a student must be smaller")
        return asked
    if asked >= total:
        raise StudentError(f"student_layers {asked} is not fewer than the base's {total} layers")
    if asked == 1:
        return (0,)
    step = total - 1
    return tuple((i * step + (asked - 1) // 2) // (asked - 1) for i in range(asked))


def student_facts(base: ModelFacts, keep: tuple[int, ...]) -> ModelFacts:
    """The base with ``len(keep)`` decoder layers: same width, vocabulary and tokenizer."""
    spec = dataclasses.replace(base.spec, layers=len(keep))
    return dataclasses.replace(base, name=f"{base.name} ({len(keep)} of {base.spec.layers} layers)", spec=spec)


def describe(keep: tuple[int, ...]) -> str:
    """``0, 2, 4, ... 29`` for a long list: the plan's one-line summary of the kept layers."""
    if len(keep) <= 8:
        return ", ".join(map(str, keep))
    return ", ".join(map(str, keep[:4])) + ", ... " + ", ".join(map(str, keep[-2:]))
