"""The HTML report in a real browser: headless Chromium renders its charts and table without errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.report_generation import write_experiment
from nasctl.html_report.model import build_report
from nasctl.html_report.watch import write_html
from reconciler.session import Session
from tests.support.chromium import chromium_binary, open_page

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(180),
    pytest.mark.skipif(chromium_binary() is None, reason="headless Chromium is not installed "
                       "(apt-get install chromium; CI installs it in .ci/run)"),
]


def _count(page, selector: str) -> int:
    return page.evaluate(f"document.querySelectorAll({selector!r}).length")


def _show_status(page, status: str) -> None:
    page.evaluate(f"(() => {{ const s = document.getElementById('trial-status'); s.value = {status!r};"
                  "s.dispatchEvent(new Event('change')); })()")


def test_report_renders_charts_and_table_in_chromium(tmp_path: Path) -> None:
    session = Session.open(write_experiment(tmp_path, 100))
    model = build_report(session.experiment, session.state(), session.store)
    report = write_html(session, tmp_path / "report.html")
    with open_page(report.as_uri()) as page:
        assert page.evaluate("document.body.dataset.rendered") == "true"
        assert _count(page, "#curve-charts .chart") == 2  # search and train
        assert _count(page, "#curve-charts .chart:first-child circle.trial") == 95  # every 20th trial failed
        assert _count(page, "#curve-charts .chart:nth-child(2) circle.trial") == 10
        assert _count(page, "#scatter-chart circle.trial") == 95
        assert _count(page, "#scatter-chart circle.front") == len(model["scatter"]["front"]) > 0
        assert _count(page, "#scatter-chart line.target") == 1
        assert _count(page, "#trials-table tbody tr") == 110
        assert _count(page, "#best .card") == 5

        _show_status(page, "failed")
        assert _count(page, "#trials-table tbody tr") == _count(page, "#trials-table tbody tr.status-failed") == 5
        failed = next(t for t in model["trials"] if t["status"] == "failed")
        cells = page.evaluate("[...document.querySelector('#trials-table tbody tr').cells]"
                              ".map(c => [c.className, c.textContent, c.title])")
        by_class = {name: (text, title) for name, text, title in cells}
        assert by_class["status"][0] == f"failed ({failed['reason']})"
        assert by_class["failure"] == (failed["message"].splitlines()[-1], failed["message"])
        _show_status(page, "")
        page.evaluate("document.querySelector('header a[data-status=failed]').click()")  # "5 failed" in the header
        assert _count(page, "#trials-table tbody tr") == _count(page, "#trials-table tbody tr.status-failed") == 5
        _show_status(page, "")
        page.evaluate("document.querySelector('th[data-key=reward]').click()")
        best = max(t["reward"] for t in model["trials"] if t["reward"] is not None)
        assert float(page.evaluate("document.querySelector('#trials-table tbody td.reward').textContent")) == \
            pytest.approx(best, rel=1e-3)

        page.evaluate("document.querySelector('#scatter-chart circle.front')"
                      ".dispatchEvent(new MouseEvent('mouseover', {bubbles: true}))")
        tooltip = page.evaluate("document.getElementById('tooltip').textContent")
        row = model["scatter"]["front"][0][2]
        assert model["trials"][row]["id"] in tooltip and model["trials"][row]["arch"] in tooltip

        shot = page.screenshot(tmp_path / "report.png")
        assert page.errors == []
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000


def test_a_script_error_is_caught(tmp_path: Path) -> None:
    """The check above is not vacuous: an exception in the page shows up in `errors`."""
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>console.error('drawn badly'); undefinedFunction();</script></body></html>")
    with open_page(broken.as_uri()) as page:
        page.evaluate("1")
        assert any("drawn badly" in e for e in page.errors)
        assert any("undefinedFunction" in e for e in page.errors)
