"""``race.json``: the race's record, one typed record with a schema version.

The study writes it after every round (study.race.rounds); the best config (study.outputs) and the
report (analysis.race.tables, analysis.race.section) read it through :meth:`RaceRecord.load`, which is
also the one place that reads the records of older studies.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gan.records import layout
from gan.records.atomic import write_text
from gan.records.history import read_record

SCHEMA = 1
# What an older record's rule was when it did not name its test: Welch's, at the full
# Bonferroni level.
WELCH_TEST = "one-sided Welch t-test against the round's leader"


@dataclass(frozen=True)
class RaceRecord:
    """The race: its rule and sizes, each contender (parameters, search draw, every fresh run
    with its stage, round and score), every round's tests, the drops, the survivors, the
    winner and why the race ended."""

    rule: dict[str, Any]
    contenders: list[dict[str, Any]]
    rounds: list[dict[str, Any]]
    dropped: dict[str, dict[str, Any]] = field(default_factory=dict)
    survivors: list[str] = field(default_factory=list)
    winner: str | None = None
    reason: str = ""
    runs_used: int = 0
    schema: int = SCHEMA

    def contender(self, key: str) -> dict[str, Any]:
        """The contender with ``key``.

        Raises:
            KeyError: for a key the race does not hold.
        """
        for entrant in self.contenders:
            if entrant["key"] == key:
                return entrant
        raise KeyError(key)

    @property
    def reference(self) -> dict[str, Any] | None:
        """gan.py's defaults, the contender the record labels; None when absent."""
        return next((c for c in self.contenders if c.get("label")), None)

    def save(self, study_dir: str | Path) -> None:
        write_text(Path(study_dir) / layout.RACE_FILE,
                   json.dumps(asdict(self), indent=2, default=str, allow_nan=True))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RaceRecord:
        """A record from its JSON, an older one brought up to date (schema 0: no schema, no
        test named in the rule, no selection margin).

        Raises:
            KeyError, TypeError: when a field every reader needs is missing or malformed.
        """
        data = dict(data)
        data.setdefault("schema", 0)
        rule = dict(data["rule"])
        rule.setdefault("test", WELCH_TEST)
        rule.setdefault("selection_margin", 1)
        data["rule"] = rule
        known = {f.name for f in fields(cls)}
        record = cls(**{k: v for k, v in data.items() if k in known})
        if not isinstance(record.contenders, list) or not isinstance(record.rounds, list):
            raise TypeError("contenders and rounds must be lists")
        return record

    @classmethod
    def load(cls, study_dir: str | Path) -> RaceRecord | None:
        """The study's race record, or None when it ran no race.

        Raises:
            StudyLoadError: when the record is there but unreadable.
        """
        return read_record(Path(study_dir) / layout.RACE_FILE, cls.from_dict)
