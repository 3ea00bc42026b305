"""``python -m analysis.report results/<study>``: charts, trial table and findings.

Writes ``<study>/report/report.md`` (images beside it) and ``report.html``
(self-contained: images embedded, opens offline in any browser).
"""

from __future__ import annotations

import argparse
import base64
import html
import logging
import shutil
import sys
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis import failures, plots
from analysis.findings import findings
from analysis.importance import param_importances
from analysis.load import StudyData, StudyLoadError, load_study
from gan import layout
from gan.cli_common import OneLineParser, fail, setup_logging

log = logging.getLogger("analysis.report")
PROG = "python -m analysis.report"
TABLE_COLUMNS = ("trial_id", "failure", "onset_epoch", "epochs", "stopped_early", "lr", "b1", "b2",
                 "latent_dim", "loss", "bn_eps", "d_lr_ratio", "fcd", "diversity", "modes", "g_grad_norm",
                 "d_loss", "status")


def _save(fig: Figure, out: Path, name: str, svg: bool = True) -> str:
    fig.savefig(out / f"{name}.png", dpi=110)
    if svg:
        fig.savefig(out / f"{name}.svg")
    return f"{name}.png"


def _example_trials(trials: pd.DataFrame) -> dict[str, str]:
    """Best, median and (if any) a collapsed trial by final fcd."""
    scored = trials.dropna(subset=["fcd"]).sort_values("fcd")
    picks: dict[str, str] = {}
    if len(scored):
        picks[scored.iloc[0]["trial_id"]] = "best"
        picks.setdefault(scored.iloc[len(scored) // 2]["trial_id"], "median")
    collapsed = trials[trials["failure"] == failures.MODE_COLLAPSE]
    if len(collapsed):
        picks.setdefault(collapsed.iloc[0]["trial_id"], "collapsed")
    return picks


def _latest_grid(data: StudyData, trial_id: str) -> Path | None:
    trial_dir = data.trial_dirs.get(trial_id)
    grids = layout.image_grids(trial_dir) if trial_dir else []
    return grids[-1] if grids else None


def _best_checkpoint(data: StudyData, trial_id: str) -> Path | None:
    trial_dir = data.trial_dirs.get(trial_id)
    if not trial_dir:
        return None
    ckpts = layout.trial_checkpoints(trial_dir)
    return ckpts[-1] if ckpts else None


def build_report(study_dir: str | Path, probe_iterations: int = 4000) -> list[Path]:
    """Write the report; return [report.html, report.md].

    Raises:
        StudyLoadError: when ``study_dir`` is not a readable study.
    """
    data = load_study(study_dir)
    out = data.study_dir / layout.REPORT_DIR
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    trials = failures.classify_study(data.history, data.max_epochs)
    trials.to_csv(out / "trials.csv", index=False)
    sections: list[tuple[str, list[str]]] = []
    sections.append(("Vanishing gradients", [
        _save(plots.vanishing_gradients(data.history, trials), out, "vanishing_gradients"),
        _save(plots.step_grad_norms(data.grad_logs, trials), out, "step_grad_norms",
              svg=False)]))
    sections.append(("Diversity collapse", [
        _save(plots.diversity_collapse(data.history, trials), out, "diversity_collapse")]))
    landscape = [_save(plots.lr_b1_landscape(trials), out, "lr_b1"),
                 _save(plots.latent_outcome(trials), out, "latent_dim"),
                 _save(plots.failure_rate_vs_lr(trials), out, "failure_rate_lr")]
    trials["failed"] = (trials["failure"] != failures.HEALTHY).astype(float)
    scores = {"fcd": param_importances(trials, "fcd", data.study_dir),
              "failure": param_importances(trials, "failed", data.study_dir)}
    landscape.append(_save(plots.importances(scores), out, "importances"))
    sections.append(("Hyperparameter landscape", landscape))
    picks = _example_trials(trials)
    samples = []
    if picks:
        samples.append(_save(plots.loss_curves(data.history, {
            t: f"{label}: {t}" for t, label in picks.items()}), out, "loss_curves"))
        for trial_id, label in picks.items():
            grid = _latest_grid(data, trial_id)
            if grid is not None:
                name = f"samples_{label}.png"
                shutil.copyfile(grid, out / name)
                samples.append(name)
    sections.append(("Samples", samples))
    probe = None
    best = next((t for t, label in picks.items() if label == "best"), None)
    ckpt = _best_checkpoint(data, best) if best else None
    if ckpt is not None and probe_iterations > 0:
        from analysis.gradient_probe import probe as run_probe
        from gan.checkpoint import load_checkpoint

        log.info("gradient probe on trial %s (%d D iterations)", best, probe_iterations)
        probe = run_probe(load_checkpoint(ckpt), iterations=probe_iterations,
                          every=max(1, probe_iterations // 20))
        probe.to_csv(out / "gradient_probe.csv", index=False)
        sections.append(("Gradient probe (Arjovsky & Bottou 2017, Fig. 2)",
                         [_save(plots.gradient_probe(probe), out, "gradient_probe")]))
    facts = findings(trials, data.history, probe)
    table = trials[[c for c in TABLE_COLUMNS if c in trials]].sort_values(
        "fcd", na_position="last")
    md = _markdown(data, facts, sections, table)
    (out / "report.md").write_text(md)
    (out / "report.html").write_text(_html(data, facts, sections, table, out))
    log.info("wrote %s and %s", out / "report.html", out / "report.md")
    return [out / "report.html", out / "report.md"]


def _thresholds() -> str:
    return ", ".join(f"{n}={getattr(failures, n)}" for n in failures.THRESHOLDS)


def _markdown(data, facts, sections, table) -> str:
    lines = [f"# Failure modes of the vanilla GAN: {data.study_dir.name}", "", "## Findings", ""]
    lines += [f"- {f}" for f in facts]
    lines += ["", f"Failure thresholds: {_thresholds()}.", ""]
    for title, images in sections:
        lines += [f"## {title}", ""] + [f"![{img}]({img})" for img in images] + [""]
    lines += ["## Trials", "", table.to_markdown(index=False, floatfmt=".4g")
              if _has_tabulate() else f"```\n{table.to_string(index=False)}\n```", ""]
    return "\n".join(lines)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def _html(data, facts, sections, table, out: Path) -> str:
    def img(name: str) -> str:
        encoded = base64.b64encode((out / name).read_bytes()).decode()
        return f'<img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">'

    body = [f"<h1>Failure modes of the vanilla GAN: {html.escape(data.study_dir.name)}</h1>",
            "<h2>Findings</h2><ul>", *[f"<li>{html.escape(f)}</li>" for f in facts], "</ul>",
            f"<p><small>Failure thresholds: {html.escape(_thresholds())}</small></p>"]
    for title, images in sections:
        body += [f"<h2>{html.escape(title)}</h2>", *[img(i) for i in images]]
    body += ["<h2>Trials</h2>", table.to_html(index=False, float_format=lambda v: f"{v:.4g}",
                                              na_rep="NaN", border=0)]
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}"
             "img{max-width:100%;margin:.5em 0}table{border-collapse:collapse;font-size:12px}"
             "td,th{padding:2px 6px;border-bottom:1px solid #ddd}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(data.study_dir.name)}"
            f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = OneLineParser(prog=PROG, description=__doc__)
    p.add_argument("study_dir", type=Path)
    p.add_argument("--probe-iterations", type=int, default=4000,
                   help="D iterations of the gradient probe (0 skips it)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    if args.probe_iterations < 0:
        return fail(PROG, f"--probe-iterations must be >= 0, got {args.probe_iterations}")
    try:
        paths = build_report(args.study_dir, args.probe_iterations)
    except StudyLoadError as err:
        return fail(PROG, str(err))
    print(paths[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
