"""``best_config.json``: the study's pick, one typed record with a schema version.

The study writes it (study.outputs); the report (analysis.race.section) and users read it
through :meth:`BestConfig.load`, the one place that reads the files of older studies.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gan.records import layout
from gan.records.atomic import write_text
from gan.records.history import read_record

SCHEMA = 1
RACED = "race over fresh seeds; estimated on held-out seeds only"
SINGLE_DRAW = "single search trial (no race over fresh seeds)"


@dataclass(frozen=True)
class BestConfig:
    """The pick: how it was selected, its parameters and exact GAN config, and (after a race)
    its estimate over held-out seeds only, with the search draw and race runs that chose it
    beside the estimate, never in it. ``search_best`` is the single best search trial."""

    selected_by: str = ""
    objective: str = ""  # the objective's name (its value is objective_mean)
    mode: str = "min"
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    objective_mean: float = math.nan
    objective_sd: float = math.nan
    objective_ci_low: float = math.nan
    objective_ci_high: float = math.nan
    n_seeds: int = 0
    n_scored: int = -1  # held-out runs with a finite score (-1: a record older than the field)
    n_no_verdict: int = 0  # held-out runs without a verdict, left out of failure_share
    failure_share: float = math.nan  # of the runs with a verdict
    failure_low: float = math.nan
    failure_high: float = math.nan
    failure_bound_low: float = math.nan  # over every run: none of the no-verdict ones failed
    failure_bound_high: float = math.nan  # ... and all of them failed
    per_seed: list[dict[str, Any]] = field(default_factory=list)
    search_draw: dict[str, Any] | None = None
    race_runs: list[dict[str, Any]] = field(default_factory=list)
    race: dict[str, Any] = field(default_factory=dict)
    gan_config: dict[str, Any] = field(default_factory=dict)
    search_best: dict[str, Any] = field(default_factory=dict)
    partial: bool = False
    schema: int = SCHEMA

    @property
    def estimated(self) -> bool:
        """Whether the pick has an estimate on held-out seeds (it won a race)."""
        return self.n_seeds > 0

    def save(self, study_dir: str | Path) -> None:
        write_text(Path(study_dir) / layout.BEST_CONFIG,
                   json.dumps(asdict(self), indent=2, sort_keys=True, default=str))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BestConfig:
        """A record from its JSON. An older file (schema 0) that held a single search trial
        kept that trial's fields at the top, ``objective`` its value: they move into
        ``search_best``."""
        data = dict(data)
        data.setdefault("schema", 0)
        if not isinstance(data.get("objective", ""), str):
            trial = {k: data.pop(k) for k in ("trial_id", "objective", "epoch", "status")
                     if k in data}
            data["search_best"] = {**trial, "params": data.get("params", {})}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def load(cls, study_dir: str | Path) -> BestConfig | None:
        """The study's pick, or None when it has not written one yet.

        Raises:
            StudyLoadError: when the file is there but unreadable.
        """
        return read_record(Path(study_dir) / layout.BEST_CONFIG, cls.from_dict)
