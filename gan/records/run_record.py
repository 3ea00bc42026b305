"""``run_config.json``: a study's settings and its GAN config, one typed record with a
schema version.

The study writes it when it starts and reads it back to resume (study.runner); the report
reads it to name the design (analysis.load). :meth:`RunRecord.load` is the one place that
reads the records of older studies. The settings live here, on the floor both stand on, so
that every module that takes them can name their type.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gan.records import layout
from gan.cli_common import write_run_record
from gan.config import GANConfig
from gan.records.history import StudyLoadError
from gan.version import __version__

SCHEMA = 1
CONTROL_LR = 2e-3  # the minimax control's learning rate: ten times gan.py's
# StudySettings fields older run records name otherwise: old -> current.
LEGACY_SETTINGS = {"confirm_top": "race_top", "confirm_seeds": "race_seeds"}


@dataclass(frozen=True)
class StudySettings:
    """Everything the study needs besides the per-trial GAN config."""

    study_dir: Path
    num_samples: int
    objective: str
    mode: str
    space: str
    scheduler: str
    grace_period: int
    reduction_factor: float
    cpus_per_trial: float
    gpus_per_trial: float
    max_concurrent: int
    seed: int
    checkpoint_interval: int
    address: str | None
    # The race (study.race.rounds): contenders from the search, seeds per contender in its first round
    # its budget of runs in all rounds, and the held-out seeds that estimate its winner.
    race_top: int = 0
    race_seeds: int = 0
    race_budget: int = 0
    estimate_seeds: int = 4
    controls: bool = False
    control_seeds: int = 1
    design: str = "search"  # "search" or "atlas" (study.space.DESIGNS)
    storage: str | None = None  # a URI for Tune's experiments (study.storage); None: study_dir
    # Stop search and control trials once their failure is conclusive (study.failure_stop);
    # False in run records written before it existed.
    failure_stop: bool = False
    control_lr: float = CONTROL_LR  # the minimax control's learning rate
    # The atlas's losses (empty: all of gan.train.losses.LOSSES), and whether it runs every Sobol
    # point under each of them from one seed (a paired atlas).
    losses: tuple[str, ...] = ()
    paired: bool = False
    # Sobol points of the search space trained at the full budget beside a search
    # (study.survey); 0 in run records written before the survey existed.
    survey_points: int = 0



def provenance() -> dict[str, str]:
    """Where and when a study ran: UTC start, package version, git commit (when the package
    runs from a checkout; ``-dirty`` with uncommitted changes), and the machine (CPU cores,
    GPU)."""
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=7"],
                                capture_output=True,
                                text=True, timeout=10, cwd=Path(__file__).resolve().parent
                                ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    import torch  # here, not at import: a run record is read where torch may be slow to load

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return {"started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "version": __version__, "commit": commit,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {gpu}"}


@dataclass(frozen=True)
class RunRecord:
    """What ``run_config.json`` holds: the base GAN config, the study's settings, and where
    and when it ran (:func:`provenance`; empty in records written before it was kept)."""

    gan: GANConfig
    study: StudySettings
    schema: int = SCHEMA
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def max_epochs(self) -> int:
        return int(self.gan.n_epochs)

    def save(self, argv: list[str] | None) -> None:
        """``run_config.json`` and ``run_command.txt`` (a command that starts the same study)."""
        study = {k: (str(v) if isinstance(v, Path) else v)
                 for k, v in asdict(self.study).items()}
        write_run_record(self.study.study_dir, {"gan": self.gan.to_dict(), "study": study,
                                                "schema": self.schema,
                                                "provenance": self.provenance or provenance()},
                         argv, module="study.run", name="run")

    @classmethod
    def from_dict(cls, data: dict[str, Any], study_dir: Path) -> RunRecord:
        """A record from its JSON, with the study folder it lies in; an older record's
        renamed settings brought up to date and settings it predates at their defaults.

        Raises:
            KeyError, TypeError, ValueError: for a record that cannot be read.
        """
        study = {**data["study"], "study_dir": Path(study_dir)}
        study["losses"] = tuple(study.get("losses", ()))
        for old, new in LEGACY_SETTINGS.items():
            if old in study:
                study[new] = study.pop(old)
        known = {f.name for f in fields(StudySettings)}
        settings = StudySettings(**{k: v for k, v in study.items() if k in known})
        return cls(GANConfig.from_dict(data["gan"]), settings, int(data.get("schema", 0)),
                   dict(data.get("provenance", {})))

    @classmethod
    def load(cls, study_dir: str | Path) -> RunRecord:
        """The study's run record.

        Raises:
            StudyLoadError: when it is missing or corrupt (the message names the file).
        """
        path = Path(study_dir) / layout.RUN_CONFIG
        try:
            return cls.from_dict(json.loads(path.read_text()), Path(study_dir))
        except (OSError, KeyError, TypeError, ValueError) as err:
            raise StudyLoadError(f"{str(path)!r} is missing or corrupt "
                                 f"({type(err).__name__}: {err})") from err
