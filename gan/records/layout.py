"""Every file and folder name that a run or a study writes, in one module.

Writers (``gan.train`` callbacks, ``study``) and readers (``analysis``) import
these names; nothing else spells them. It lives in ``gan`` because all three
packages may import ``gan`` without forming a cycle.
"""

from __future__ import annotations

import re
from pathlib import Path

# --- one run folder: ``python -m gan.train --out-dir``, and each trial folder of a study ---
METRICS_FILE = "metrics.csv"  # one row per epoch: the run's full record
GRAD_LOG_FILE = "grad_log.csv"  # one row per log interval: per-step losses and gradient norms
CHECKPOINT_FILE = "checkpoint.pt"
IMAGES_DIR = "images"  # <step>.png sample grids
TRIAL_FILE = "trial.json"  # a study trial's parameters, phase and GAN config
SNAPSHOTS_DIR = "generator_snapshots"  # epoch_<N>.pt: G's weights after epoch N (the probe's)

# --- one study folder: ``results/<name>/`` ---
RAY_DIR = "ray"  # Ray Tune's experiment folder of the search
# Older studies ran their race's runs and controls in one experiment, under this name.
LEGACY_RACE_RAY_DIR = "ray-confirm"
RACE_RAY_PREFIX = "ray-race-"  # ray-race-<round>: each round of the race (round 1: controls too)
RACE_ESTIMATE_RAY_DIR = "ray-race-estimate"  # the winner's held-out estimation runs
RACE_FILE = "race.json"  # the race's contenders, rounds, drops, winner and estimate
# The race's reference contender: the only one race.json gives a label (studies before this
# name called it "seed defaults").
DEFAULTS_LABEL = "gan.py defaults"
OPTUNA_DB = "optuna.db"
RUN_CONFIG = "run_config.json"
RUN_COMMAND = "run_command.txt"
HISTORY_PARQUET, HISTORY_CSV = "history.parquet", "history.csv"
BEST_CONFIG = "best_config.json"
FAILURE_STOPS = "failure_stops.json"  # trials failure-aware stopping ended, and why
TIMING_FILE = "timing.json"  # where the study's trial slots' time went
REPORT_DIR = "report"

# Trial folders are named by study.trainable's dirname creator, never by Ray's default.
TRIAL_DIR_PREFIX = "trial_"
_TRIAL_DIR = re.compile(rf"^{TRIAL_DIR_PREFIX}([0-9a-zA-Z_]+)$")
# Ray Tune persists each reported checkpoint as <trial>/checkpoint_<index>/ (index from 0).
_TUNE_CHECKPOINT_GLOB = "checkpoint_*"
_TUNE_CHECKPOINT_DIR = re.compile(r"^checkpoint_(\d+)$")

# --- the columns of a study's history that say what a trial was ---
SEARCH_PARAMS = ("lr", "b1", "b2", "latent_dim", "loss", "bn_eps", "d_lr_ratio")
PHASE_SEARCH, PHASE_RACE, PHASE_CONTROL = "search", "race", "control"
# Phases older studies wrote under another name: old -> current (read by gan.records.history).
LEGACY_PHASES = {"confirm": PHASE_RACE}
PHASE_ATLAS = "atlas"  # a --design atlas trial: a Sobol point at the full budget, not a search
# A survey point of a search design (study.survey): a Sobol point at the full budget, never cut
# by the scheduler, which the failure map and rates stand on.
PHASE_SURVEY = "survey"
# Each design's own trials (as opposed to the race and control runs around them).
DESIGN_PHASES = {"search": PHASE_SEARCH, "atlas": PHASE_ATLAS}
# What proposed each phase's trials, as a sentence names it.
PHASE_SAMPLERS = {PHASE_SEARCH: "TPE", PHASE_SURVEY: "the survey's Sobol sequence",
                  PHASE_ATLAS: "a seeded Sobol sweep"}
# Every trial the study's sampler proposed: the design's own and the survey's.
PROPOSAL_PHASES = (PHASE_SEARCH, PHASE_SURVEY, PHASE_ATLAS)


def trial_dirname(trial_id: str) -> str:
    """The folder name of the trial with Tune id ``trial_id``."""
    return f"{TRIAL_DIR_PREFIX}{trial_id}"


def trial_id_of(folder: Path) -> str | None:
    """The trial id encoded in a trial folder's name, or None for any other folder."""
    match = _TRIAL_DIR.match(folder.name)
    return match.group(1) if match else None


def race_round_dir(number: int) -> str:
    """The Tune experiment folder of the race's round ``number`` (from 1)."""
    return f"{RACE_RAY_PREFIX}{number}"


def experiment_dirs(study_dir: Path) -> list[Path]:
    """The study's Tune experiment folders that exist: the search's, then the race's (its
    rounds in order, its estimation runs last)."""
    root = Path(study_dir)
    rounds = sorted((p for p in root.glob(f"{RACE_RAY_PREFIX}*")
                     if p.name.removeprefix(RACE_RAY_PREFIX).isdigit()),
                    key=lambda p: int(p.name.removeprefix(RACE_RAY_PREFIX)))
    named = [root / RAY_DIR, root / LEGACY_RACE_RAY_DIR, *rounds, root / RACE_ESTIMATE_RAY_DIR]
    return [p for p in named if p.is_dir()]


def trial_dirs(study_dir: Path) -> dict[str, Path]:
    """Every trial folder of a study (search, race and control runs), by trial id."""
    found: dict[str, Path] = {}
    for root in experiment_dirs(study_dir):
        for folder in sorted(root.iterdir()):
            trial_id = trial_id_of(folder)
            if trial_id is not None and folder.is_dir():
                found[trial_id] = folder
    return found


def trial_checkpoints(trial_dir: Path) -> list[Path]:
    """The trial's saved checkpoints, oldest first (Tune numbers them in order)."""
    return sorted(Path(trial_dir).glob(f"{_TUNE_CHECKPOINT_GLOB}/{CHECKPOINT_FILE}"))


def checkpoint_index(name: str) -> int | None:
    """The index of a Tune checkpoint folder named ``name``, or None for any other name."""
    match = _TUNE_CHECKPOINT_DIR.match(name)
    return int(match.group(1)) if match else None


def checkpoint_gaps(trial_dir: Path) -> list[Path]:
    """Tune checkpoint folders missing below the trial's newest one (deleted by Tune's
    rotation), in index order."""
    indices = [i for p in Path(trial_dir).glob(_TUNE_CHECKPOINT_GLOB)
               if (i := checkpoint_index(p.name)) is not None]
    if not indices:
        return []
    width = len(next(Path(trial_dir).glob(_TUNE_CHECKPOINT_GLOB)).name) - len("checkpoint_")
    present = set(indices)
    return [Path(trial_dir) / f"checkpoint_{i:0{width}d}" for i in range(max(indices))
            if i not in present]


def snapshot_path(run_dir: Path, epoch: int) -> Path:
    """Where a run keeps G's weights after ``epoch``."""
    return Path(run_dir) / SNAPSHOTS_DIR / f"epoch_{epoch}.pt"


def generator_snapshots(run_dir: Path) -> dict[int, Path]:
    """A run's generator snapshots, by epoch."""
    folder = Path(run_dir) / SNAPSHOTS_DIR
    if not folder.is_dir():
        return {}
    return {int(p.stem.removeprefix("epoch_")): p for p in folder.glob("epoch_*.pt")
            if p.stem.removeprefix("epoch_").isdigit()}


def image_grids(run_dir: Path) -> list[Path]:
    """A run's sample grids, in step order."""
    images = Path(run_dir) / IMAGES_DIR
    if not images.is_dir():
        return []
    return sorted((p for p in images.glob("*.png") if p.stem.isdigit()), key=lambda p: int(p.stem))
