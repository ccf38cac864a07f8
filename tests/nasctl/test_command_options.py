"""Command options out of range are usage errors (exit 2), not hangs or busy loops."""
from __future__ import annotations

from typer.testing import CliRunner

from nasctl.cli import app

runner = CliRunner()


def test_out_of_range_command_options_are_usage_errors_not_hangs_or_busy_loops(tmp_path):
    for args in (["spaces", "--sample", "nb201", "--count", "100000000"],
                 ["latency-worker", "-f", "x.yaml", "--poll-seconds", "0"],
                 ["latency-worker", "-f", "x.yaml", "--runs", "1"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
