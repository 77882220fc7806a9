"""Notebook 08: the predicted-latent gap, signed so that positive is worse."""
from course_lib import decode_paths


def gap(table, metric: str) -> float:
    diff = table.loc[decode_paths.PREDICTED, metric] - table.loc[decode_paths.ORACLE, metric]
    return float(diff if metric in decode_paths.LOWER_IS_BETTER else -diff)
