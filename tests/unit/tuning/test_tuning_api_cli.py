"""The tuner's public names, its lazy extra, the CLI's flag parsing and the SAM template hook."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

import batchmap.tuning
from batchmap.cli import tune
from batchmap.errors import ConfigError
from batchmap.tuning import TemplateFunction, function_from_template, register_template_reader
from batchmap.tuning import template as template_module


def test_every_public_name_resolves_and_all_is_sorted() -> None:
    for name in batchmap.tuning.__all__:
        assert getattr(batchmap.tuning, name) is not None, name
    assert list(batchmap.tuning.__all__) == sorted(set(batchmap.tuning.__all__))


def test_importing_the_tuner_loads_none_of_the_tune_extra() -> None:
    code = (
        "import sys, batchmap.tuning, batchmap.cli.tune\n"
        "print([m for m in ('numpy', 'scipy', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_missing_extra_says_which_install_fixes_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['scipy'] = None  # as if scipy were not installed\n"
        "from batchmap.errors import MissingExtraError\n"
        "from batchmap.tuning import Candidate, HandlerProfile, Workload, load_prices, predict\n"
        "try:\n"
        "    profile = HandlerProfile(t0_s=0.1, t1_s=0.01)\n"
        "    predict(profile, Workload(rate=5), Candidate(10, 1), load_prices())\n"
        "except MissingExtraError as exc:\n"
        "    print(exc.extra, exc.module, '|', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("tune scipy |") and "pip install 'batchmap[tune]'" in out


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="batchmap")
    tune.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["tune", *argv])


def test_list_flags_take_commas_or_spaces_and_name_the_flag_on_error() -> None:
    assert tune.parse_list(["10,100", "1000"], int, "--batch-size") == (10, 100, 1000)
    assert tune.parse_list(None, int, "--batch-size") is None
    assert tune.parse_list(["2,none"], tune.parse_concurrency, "--maximum-concurrency") == (2, None)
    with pytest.raises(ConfigError) as raised:
        tune.parse_list(["10,ten"], int, "--batch-size")
    assert (raised.value.parameter, raised.value.value) == ("--batch-size", "ten")
    args = _args("--t0-ms", "80", "--t1-ms", "5", "--rate", "50", "--architectures", "arm64", "sparc")
    with pytest.raises(ConfigError, match="--architectures"):
        tune.tune(args, sys.stdout)


def test_the_command_needs_a_handler_or_stated_timings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        tune.tune(_args("--rate", "50", "--out", str(tmp_path)), sys.stdout)
    assert raised.value.parameter == "--function"
    with pytest.raises(ConfigError) as raised:
        tune.tune(_args("--function", "app:handler", "--rate", "50", "--out", str(tmp_path)), sys.stdout)
    assert raised.value.parameter == "--sample-event"


REFERENCE_FLAGS = (
    "--t0-ms", "80", "--t1-ms", "5", "--memory-size", "512", "--rate", "50", "--latency-p99", "2",
    "--lambda-only", "--architectures", "x86_64", "--batch-size", "5,10,11,12,13,14,15,20",
    "--maximum-batching-window-in-seconds", "0,1,2,3,4,5", "--no-simulate", "--json",
)  # fmt: skip


def test_stated_timings_beat_the_reference_pick_at_the_edge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """k = 5 SQS pollers, p99 <= 2 s, Lambda cost only. The reference's formulas pick B = 13, W = 3 s
    ($0.108/M); deciding the candidates near 2 s by simulation finds one at least as cheap whose
    simulated p99 meets the target, and the JSON says how each verdict was reached."""
    assert tune.run(_args(*REFERENCE_FLAGS, "--out", str(tmp_path))) == 0
    summary = json.loads(capsys.readouterr().out)
    chosen = summary["chosen"]
    assert chosen["lambda_usd_per_million"] <= 0.108 + 0.0005
    assert chosen["decided_by"] == "simulation" and chosen["simulated_p99_latency_s"] <= 2.0
    assert summary["latency_margin"] == 0.0
    assert any("decided by simulation" in line for line in summary["reasoning"])
    assert (tmp_path / "report.html").exists() and not (tmp_path / "fit.png").exists()


def test_the_latency_margin_flag_holds_every_verdict_to_the_reduced_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tune.run(_args(*REFERENCE_FLAGS, "--latency-margin", "0.1", "--out", str(tmp_path))) == 0
    summary = json.loads(capsys.readouterr().out)
    chosen = summary["chosen"]
    seen = chosen["simulated_p99_latency_s"] or chosen["p99_latency_s"]
    assert seen <= 1.8 and summary["latency_margin"] == 0.1
    assert summary["target"] == "p99 <= 2 s (margin 10%)"
    with pytest.raises(ConfigError) as raised:
        tune.tune(_args(*REFERENCE_FLAGS, "--latency-margin", "1.5", "--out", str(tmp_path)), sys.stdout)
    assert (raised.value.parameter, raised.value.value) == ("latency_margin", 1.5)
    assert tune.FIELD_FLAGS["latency_margin"] == "--latency-margin"


def test_template_hook_without_and_with_a_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template_module, "_readers", [])
    monkeypatch.setattr(template_module, "READER_MODULES", ("batchmap.no_such_reader",))
    with pytest.raises(ConfigError, match="SAM template reader"):
        function_from_template("template.yaml", "Orders")
    with pytest.raises(ConfigError) as raised:
        function_from_template("template.yaml", "")
    assert raised.value.parameter == "--function-name"

    def reader(path: str, name: str) -> TemplateFunction:
        return TemplateFunction(handler=f"{name.lower()}.app.handler", code_path=str(Path(path).parent))

    register_template_reader(reader)
    found = function_from_template("stack/template.yaml", "Orders")
    assert (found.handler, found.code_path) == ("orders.app.handler", "stack")
