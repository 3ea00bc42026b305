"""The report's two renderings: markdown (images beside it) and self-contained HTML."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis.claims import rule as claims_rule
from gan.census import climbing, failures, oscillation, stop_rules
from gan.records import layout
from gan.records.run_record import provenance as run_provenance
from analysis.load import StudyData


@dataclass
class Report:
    """What the sections accumulate: findings, (title, images, notes) sections, the folder."""

    out: Path
    facts: list[str] = field(default_factory=list)
    sections: list[tuple[str, list[str], list[str]]] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)  # after the census
    claims: list[tuple[str, pd.DataFrame]] = field(default_factory=list)  # after the summary
    claims_note: str = ""  # the predictions this design cannot test, in one line
    # The answer, first of all: blocks of (images, lines), each block's images above its lines.
    summary: list[tuple[list[str], list[str]]] = field(default_factory=list)

    def summarize(self, images: list[str] = (), lines: list[str] = ()) -> None:
        """A block of the summary: ``images`` (saved names), then ``lines`` under them."""
        self.summary.append((list(images), list(lines)))

    def save(self, fig: Figure, name: str, svg: bool = True) -> str:
        fig.savefig(self.out / f"{name}.png", dpi=110)
        if svg:
            fig.savefig(self.out / f"{name}.svg")
        return f"{name}.png"


# What each census threshold (gan.census.failures) means, in plain words.
THRESHOLD_MEANINGS = {
    "FINAL_WINDOW": "epochs at the end of a trial over which every rule must hold",
    "VANISHING_GRAD_NORM": "G's gradient norm below this counts as vanished",
    "VANISHING_D_FAKE": "... while D(G(z)) stays below this (D rejects every fake)",
    "VANISHING_D_REAL": "... and D(x) at least this (D accepts real digits: it separates)",
    "D_WINS_LOSS": "ns, minimax, hinge: d_loss below this: D separates real from fake almost "
                   "perfectly (BCE of a D at 0.95 on real and 0.05 on fake; hinge: past its "
                   "margin on nearly every input)",
    "D_WINS_LOSS_LSGAN": "lsgan: the same D on lsgan's squared scale; wgan-gp has no D-wins rule",
    "FROZEN_GRAD_NORM": "G's and D's gradient norms both exactly this while D does not "
                        "separate (saturated on every input, at 0 or at 1): training frozen",
    "COLLAPSE_PEAK": "diversity a trial must first reach before it can collapse",
    "COLLAPSE_COVERAGE": "coverage below this is narrow (real digits about 0.97)",
    "COLLAPSE_MODES": "fewer digit classes than this with 5% of the samples is narrow",
    "COLLAPSE_DROP": "diversity below this share of its peak is narrow",
    "COLLAPSE_MIN_DENSITY": "density at least this: the samples look real",
    "NONCONVERGED_DIVERSITY": "diversity still below this at the end: never learned",
    "OSCILLATION_CV": "detrended swing of g_loss, relative to its size, above this: oscillation",
    "OSCILLATION_SMOOTH": "logged steps averaged before the swing is measured",
    "CLIMB_GAIN": "not diverse yet: never learned variety, and coverage rose at least this "
                  "across the latter half of the run (Theil-Sen)",
    "CLIMB_NOISE": "... and by at least this many times the half's own residual noise",
    "CLIMB_ALPHA": "... with Kendall's one-sided trend test below this",
    "CLIMB_KEEP": "... and final coverage at least this share of its best 3-epoch mean",
    "CLIMB_MIN_POINTS": "fewer scored epochs in the latter half: no climb can be shown",
}


def precedence_text() -> str:
    """The order in which the census's rules name a trial's class, and what a rate counts."""
    order = ", ".join(failures.class_label(c) for c in failures.PRECEDENCE)
    return (f"A trial's class is the first failure rule that holds at its end, in this order: "
            f"{order}; every other rule that also holds is named beside it as secondary (the "
            "trials table's secondary column), and every rate counts the class alone. The "
            "budget-end rules (mode collapse without a learned peak, non-convergence) are read "
            "only at the full budget, after the not-diverse-yet test: a run still climbing has "
            "no verdict.")


def thresholds_table(model: str = "mlp") -> pd.DataFrame:
    """The census's thresholds: name, value and what each means; the stop windows are
    ``model``'s (gan.census.stop_rules.stop_windows)."""
    rows = [{"threshold": n, "value": str(getattr(module, n)),
             "meaning": THRESHOLD_MEANINGS.get(n, "")}
            for module in (failures, oscillation, climbing) for n in module.THRESHOLDS]
    rows.append({"threshold": "STOP_WINDOWS",
                 "value": stop_rules.windows_text(stop_rules.stop_windows(model)),
                 "meaning": "epochs a conclusive rule must hold before failure-aware stopping "
                            "ends a trial"})
    return pd.DataFrame(rows)


def _design(data: StudyData) -> str:
    if data.run is None:
        return "Design: unknown (no run_config.json)."
    study = data.run.study
    losses = ", ".join(study.losses) or "every arm (the five losses and the wgan-gp recipe)"
    if data.design != "atlas":
        how = f"{layout.PHASE_SAMPLERS[layout.PHASE_SEARCH]} proposals" + (
            f" after {study.survey_points} survey points" if study.survey_points else "")
    elif data.paired:
        how = f"paired: every seeded Sobol point under each of {losses} from one seed"
    else:
        how = f"{layout.PHASE_SAMPLERS[layout.PHASE_ATLAS]} balanced across losses"
    if data.design == "atlas":
        how += ", every trial at the full budget"
    return (f"Design: {data.design} ({how}; {study.scheduler} scheduler, {study.num_samples} "
            f"trials, space {study.space}, objective {study.objective}, seed {study.seed}); "
            f"networks: {data.run.gan.model} ({data.run.gan.img_size}x{data.run.gan.img_size} "
            "images); populations are named in every line.")


def provenance_text(data: StudyData) -> str:
    """Which run the report is of and when it was rendered: the study's command, its start,
    version, commit and machine (from run_config.json), and the renderer's own."""
    path = data.study_dir / layout.RUN_COMMAND
    command = path.read_text().strip() if path.is_file() else "not recorded"
    ran = data.run.provenance if data.run else {}
    if ran:
        when = (f"started {ran.get('started', '?')}, gan-study {ran.get('version', '?')} "
                f"(commit {ran.get('commit') or 'not recorded'}), on {ran.get('machine', '?')}")
    else:
        when = "its start, commit and machine were not recorded (a study older than that record)"
    now = run_provenance()
    return (f"Run: `{command}`; {when}. Report rendered {now['started']} by gan-study "
            f"{now['version']} (commit {now['commit'] or 'not recorded'}).")


def _claims_markdown(rep: Report) -> list[str]:
    lines = []
    for i, (title, frame) in enumerate((t, f) for t, f in rep.claims if len(f)):
        lines += [f"## {title}", ""] + ([f"Verdict rule: {claims_rule.RULE}", ""] if i == 0 else [])
        lines += [frame.to_markdown(index=False), ""]
    return lines + ([rep.claims_note, ""] if rep.claims_note else [])


def _summary_markdown(rep: Report) -> list[str]:
    if not rep.summary:
        return []
    lines = ["## Summary", ""]
    for images, text in rep.summary:
        lines += [f"![{img}]({img})" for img in images] + ([""] if images else [])
        lines += [f"- {s}" for s in text] + ([""] if text else [])
    return lines


def markdown(data: StudyData, rep: Report, census: pd.DataFrame, table: pd.DataFrame) -> str:
    lines = [f"# Failure modes of the vanilla GAN: {data.study_dir.name}", "", _design(data), "",
             provenance_text(data), ""] + _summary_markdown(rep) + _claims_markdown(rep)
    lines += ["## Findings", ""] + [f"- {f}" for f in rep.facts]
    lines += ["", "## Census (count, 95% Wilson interval)", "",
              census.to_markdown(index=False), "", "Failure thresholds:", "",
              thresholds_table(data.model).to_markdown(index=False), "", precedence_text(), ""]
    for title, frame in rep.tables:
        lines += [f"## {title}", "", frame.to_markdown(index=False, floatfmt=".4g"), ""]
    for title, images, notes in rep.sections:
        lines += [f"## {title}", ""] + [f"![{img}]({img})" for img in images] + [""]
        lines += [f"- {n}" for n in notes] + ([""] if notes else [])
    lines += ["## Trials", "", table.to_markdown(index=False, floatfmt=".4g"), ""]
    return "\n".join(lines)


def html_page(data: StudyData, rep: Report, census: pd.DataFrame, table: pd.DataFrame) -> str:
    def img(name: str) -> str:
        encoded = base64.b64encode((rep.out / name).read_bytes()).decode()
        return f'<img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">'

    def bullets(items: list[str]) -> str:
        return "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"

    title = html.escape(data.study_dir.name)
    body = [f"<h1>Failure modes of the vanilla GAN: {title}</h1>",
            f"<p>{html.escape(_design(data))}</p>",
            f"<p>{html.escape(provenance_text(data))}</p>"]
    if rep.summary:
        body += ["<h2>Summary</h2>"]
        for images, text in rep.summary:
            body += [img(i) for i in images] + ([bullets(text)] if text else [])
    for i, (name, frame) in enumerate((t, f) for t, f in rep.claims if len(f)):
        body += [f"<h2>{html.escape(name)}</h2>"]
        body += [f"<p>Verdict rule: {html.escape(claims_rule.RULE)}</p>"] if i == 0 else []
        body += [frame.to_html(index=False, border=0)]
    body += [f"<p>{html.escape(rep.claims_note)}</p>"] if rep.claims_note else []
    body += ["<h2>Findings</h2>", bullets(rep.facts),
            "<h2>Census (count, 95% Wilson interval)</h2>", census.to_html(index=False, border=0),
            "<p>Failure thresholds:</p>", thresholds_table(data.model).to_html(index=False, border=0),
            f"<p>{html.escape(precedence_text())}</p>"]
    for name, frame in rep.tables:
        body += [f"<h2>{html.escape(name)}</h2>",
                 frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="–",
                               border=0)]
    for name, images, notes in rep.sections:
        body += [f"<h2>{html.escape(name)}</h2>", *[img(i) for i in images]]
        body += [bullets(notes)] if notes else []
    body += ["<h2>Trials</h2>", table.to_html(index=False, float_format=lambda v: f"{v:.4g}",
                                              na_rep="NaN", border=0)]
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}"
             "img{max-width:100%;margin:.5em 0}table{border-collapse:collapse;font-size:12px;"
             "display:block;overflow-x:auto;max-width:100%}"
             "td,th{padding:2px 6px;border-bottom:1px solid #ddd}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")
