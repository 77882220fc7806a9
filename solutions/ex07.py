"""Notebook 07: the neutral oracle and the task oracle of a restoration codec."""
from course_lib import metrics


def two_oracles(codec, clean: list, degraded: list) -> dict:
    neutral = [metrics.mel_distance(codec(c), c) for c in clean]
    task = [metrics.mel_distance(codec(d), c) for d, c in zip(degraded, clean)]
    return {"neutral": sum(neutral) / len(neutral), "task": sum(task) / len(task)}
