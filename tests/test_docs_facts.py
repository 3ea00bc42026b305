"""Facts the docs quote that code can change under them: exit codes, defaults, file names and
every CLI's examples."""

import importlib
import re
from pathlib import Path

import pytest

from gan.records import layout

ROOT = Path(__file__).resolve().parents[1]
CLIS = ("study.cli", "gan.train.__main__", "gan.metrics.evaluate", "gan.bench.step", "gan.bench.concurrency",
        "analysis.report", "analysis.stopping", "analysis.gradient_probe", "analysis.reach")


@pytest.mark.parametrize("module", CLIS)
def test_every_cli_help_ends_with_examples(module, capsys):
    with pytest.raises(SystemExit):
        importlib.import_module(module).parse_args(["--help"])
    lines = capsys.readouterr().out.strip().splitlines()
    examples = [i for i, line in enumerate(lines) if line.startswith(("examples:", "example:"))]
    options = [i for i, line in enumerate(lines) if line.startswith("  -")]
    assert examples and examples[-1] > options[-1], lines[-8:]  # the examples come last


def test_exit_codes_in_the_reliability_table_are_the_codes():
    from study import cli, faults

    table = (ROOT / "docs" / "reliability.md").read_text()
    codes = {int(c) for c in re.findall(r"^\| (\d+) \|", table, flags=re.M)}
    assert codes == {0, cli.EXIT_ALL_ERRORED, 2, faults.EXIT_STORAGE, cli.EXIT_INTERRUPTED}


def test_race_defaults_quoted_in_the_study_page():
    from study.cli import parse_args
    from study.flags import apply_defaults as _apply_defaults

    args = parse_args([])
    _apply_defaults(args)
    page = (ROOT / "docs" / "study.md").read_text()
    for flag, value in (("race-top", args.race_top), ("race-seeds", args.race_seeds),
                        ("estimate-seeds", args.estimate_seeds),
                        ("control-seeds", args.control_seeds)):
        assert f"`--{flag}` ({value})" in page, flag
    assert f"default: round 1 plus one seed per search contender, {args.race_budget} runs" in page


def test_results_readme_names_every_study_file():
    readme = (ROOT / "results" / "README.md").read_text()
    for name in (layout.RAY_DIR, layout.RACE_ESTIMATE_RAY_DIR, layout.RACE_FILE, layout.OPTUNA_DB,
                 layout.RUN_CONFIG, layout.RUN_COMMAND, layout.HISTORY_PARQUET, layout.BEST_CONFIG,
                 layout.FAILURE_STOPS, layout.TIMING_FILE, layout.METRICS_FILE,
                 layout.GRAD_LOG_FILE, layout.TRIAL_FILE, layout.SNAPSHOTS_DIR,
                 layout.CHECKPOINT_FILE, layout.race_round_dir(1).removesuffix("1")):
        assert f"`{name}" in readme, name


# Flags whose value has no default to state: a path to read, or a switch between modes.
NO_DEFAULT = ("--checkpoint", "--resume-from", "--address", "--storage", "--data-dir",
              "--losses", "--quality-config", "study_dir", "--out")


@pytest.mark.parametrize("module", CLIS)
def test_every_cli_help_states_its_defaults(module, capsys):
    """Each flag that takes a value says its default: argparse's own, or the help's words
    where the default is worked out at run time."""
    with pytest.raises(SystemExit):
        importlib.import_module(module).parse_args(["--help"])
    out = capsys.readouterr().out
    entries = re.split(r"\n(?=  -)", out[out.index("options:"):out.index("example")])
    for entry in entries:
        head = entry.strip().split("  ")[0]
        takes_value = re.search(r"--[\w-]+[ =]([A-Z_]+|\{)", head)
        flag = head.split()[0].rstrip(",") if head else ""
        if not takes_value or any(name in head for name in NO_DEFAULT):
            continue
        assert "default" in " ".join(entry.split()), (module, flag)


def test_the_numbers_the_docs_quote_from_the_example_report_are_in_it():
    """docs/example-report/README.md lists what the docs quote from the example report; each
    must be in the page, and each quoted figure must be the README's too."""
    import html as html_module

    folder = ROOT / "docs" / "example-report"
    page = html_module.unescape((folder / "report.html").read_text())
    listed = re.findall(r"^- `(.+)`$", (folder / "README.md").read_text(), flags=re.M)
    assert len(listed) >= 4
    for quote in listed:
        assert quote in page, quote
    readme = (ROOT / "README.md").read_text()
    assert "188.6 (95% CI 78.8–298.5)" in readme and "10 of 13 failed (77%, CI 50–92%)" in readme
