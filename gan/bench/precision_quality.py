"""What bf16 autocast costs in sample quality: the same configs and seeds trained in fp32 and
in bf16, scored alike (``python -m gan.bench --quality-seeds N``)."""

from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path
from typing import Any

from gan.records.best_config import BestConfig
from gan.config import PRECISIONS, GANConfig
from gan.data import DataSplit
from gan.metrics.quality import QualityEvaluator
from gan.train.loop import train

DEFAULTS = {"gan.py defaults": {}}  # compared always; a study's pick joins with --quality-config


def compare(split: DataSplit, base: GANConfig, seeds: int,
            configs: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Rows of (config, precision, fcd and diversity mean/sd over ``seeds`` training seeds),
    each run scored at its last epoch on the same evaluation noise.

    Args:
        configs: name -> GANConfig changes to compare (default :data:`DEFAULTS`).

    Raises:
        ValueError: for ``seeds`` < 1.
    """
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    rows = []
    for name, changes in (configs or DEFAULTS).items():
        # The evaluation noise has the config's latent size; the classifier is cached.
        evaluator = QualityEvaluator.for_data(split, dataclasses.replace(base, **changes),
                                              split.train.device)
        for precision in PRECISIONS:
            scores = []
            for seed in range(seeds):
                config = dataclasses.replace(base, **changes, precision=precision, seed=seed,
                                             eval_seed=0)
                scores.append(train(config, data=split, evaluator=evaluator).history[-1])
            row: dict[str, Any] = {"config": name, "precision": precision, "seeds": seeds}
            for metric in ("fcd", "diversity"):
                values = [s.get(metric, float("nan")) for s in scores]
                row[metric] = statistics.fmean(values)
                row[f"{metric}_sd"] = statistics.stdev(values) if seeds > 1 else float("nan")
            rows.append(row)
    return rows


def format_rows(rows: list[dict[str, Any]]) -> list[str]:
    return [f"{r['config']:<14} {r['precision']}: fcd {r['fcd']:7.1f} ± {r['fcd_sd']:5.1f}, "
            f"diversity {r['diversity']:.3f} ± {r['diversity_sd']:.3f} over {r['seeds']} seeds"
            for r in rows]


def quality_params(path: Path) -> dict[str, Any]:
    """The GANConfig changes of a study's ``best_config.json`` (its ``params``).

    Raises:
        OSError, ValueError, KeyError: when it is missing, not JSON, or has no params.
    """
    params = dict(BestConfig.from_dict(json.loads(Path(path).read_text())).params)
    if not params:
        raise KeyError(f"{str(path)!r} names no params")
    ratio = params.pop("d_lr_ratio", None)
    if ratio not in (None, 1.0):
        params["d_lr"] = float(ratio) * float(params["lr"])
    try:
        GANConfig(**params)
    except TypeError as err:  # a parameter no config has
        raise ValueError(str(err)) from err
    return params
