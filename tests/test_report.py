import re
import subprocess
import sys

from analysis.report import build_report, main
from synthetic_study import write_study


def test_report_on_synthetic_study_every_image_exists(tmp_path):
    study = tmp_path / "synthetic-study"
    write_study(study)
    html_path, md_path = build_report(study, probe_iterations=0)
    md = md_path.read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(images) >= 6
    assert all((md_path.parent / img).is_file() for img in images)
    for cls in ("vanishing gradients", "mode collapse", "discriminator wins", "diverged"):
        assert cls in md
    html = html_path.read_text()
    assert "http://" not in html and "https://" not in html  # opens offline
    assert html.count("data:image/png;base64,") == len(images)


def test_corrupt_or_missing_study_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "history.parquet").write_text("garbage")
    assert main([str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "bad" in err[-1]
    assert not (bad / "report").exists()


def test_report_cli_subprocess(tmp_path):
    study = tmp_path / "s"
    write_study(study)
    proc = subprocess.run([sys.executable, "-m", "analysis.report", str(study),
                           "--probe-iterations", "0"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (study / "report" / "report.html").is_file()
