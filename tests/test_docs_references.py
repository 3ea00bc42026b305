import pytest

from doc_references import PAGES, broken_references, cli_parsers


@pytest.fixture(scope="module")
def parsers():
    return cli_parsers()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name if p.parent.name != "results"
                         else "results/README.md")
def test_every_citation_in_the_docs_exists(page, parsers):
    assert broken_references(page.read_text(), parsers) == []


def test_the_checker_finds_deliberate_mistakes(parsers):
    text = ("Cited: `gan.models.registry.check_pair`, `gan/models/dcgan.py`, "
            "`tests/test_models.py::test_layer_names`, `python -m study.run --model dcgan`, "
            "`--bn-eps 0.8` (the default). Wrong: `gan.census.failures.no_such_rule`, "
            "`gan/models/vgg.py`, `tests/test_models.py::test_missing`, "
            "`python -m study.run --no-such-flag`, `--race-seeds 7` (the default).")
    assert broken_references(text, parsers) == [
        "no such module or attribute: gan.census.failures.no_such_rule",
        "no such file: gan/models/vgg.py",
        "no such test: tests/test_models.py::test_missing",
        "no CLI has --no-such-flag: python -m study.run --no-such-flag",
        "--race-seeds's default is ['2'], the page says 7",
    ]
