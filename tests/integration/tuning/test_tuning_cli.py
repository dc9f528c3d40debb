"""``batchmap tune`` end to end on examples/demo: the report, its PNGs, the HTML in headless Chromium."""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from tuning_browser import open_page

import batchmap.cli
from batchmap.cli import tune
from batchmap.tuning.plots import PNG_SIZE

APPS = Path(__file__).parent / "tuning_apps"
DEMO = Path(__file__).parents[3] / "examples" / "demo"
FLAGS = [
    "--function",
    "orders:handler",
    "--sample-event",
    "demo_order_event.json",
    "--rate",
    "50",
    "--latency-p99",
    "2",
    "--measure-batch-sizes",
    "1,5,10,20",
    "--repeats",
    "2",
    "--warmup",
    "1",
    "--cold-starts",
    "1",
    "--batch-size",
    "1,5,10,20,50,100,200",
    "--maximum-batching-window-in-seconds",
    "0,1,2,5,10",
    "--horizon",
    "300",
]
IMAGES_PROBE = "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"


def _run_tune(workdir: Path, extra: list[str]) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh process (``python -m batchmap tune`` once the CLI registers it)."""
    if "tune" in batchmap.cli.SUBCOMMANDS:
        command = [sys.executable, "-m", "batchmap", "tune", *FLAGS, *extra]
    else:
        command = [
            sys.executable,
            "-c",
            "import sys; from tests_tune_entry import main; sys.exit(main())",
            *FLAGS,
            *extra,
        ]
        (workdir / "tests_tune_entry.py").write_text(_ENTRY, encoding="utf-8")
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=240, check=False)


_ENTRY = """
import argparse, sys
from batchmap.cli import tune
from batchmap.errors import BatchmapError

def main():
    parser = argparse.ArgumentParser(prog="batchmap")
    tune.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["tune", *sys.argv[1:]])
    try:
        return args.func(args)
    except BatchmapError as exc:
        print(f"batchmap: error: {exc}", file=sys.stderr)
        return 2
"""


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run ``batchmap tune`` once, in a copy of the demo app as a fresh checkout holds it."""
    workdir = tmp_path_factory.mktemp("checkout")
    shutil.copytree(DEMO, workdir, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    shutil.copy(APPS / "demo_order_event.json", workdir / "demo_order_event.json")
    done = _run_tune(workdir, ["--out", "report"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "event source mapping: --batch-size" in done.stdout
    assert "fit: D(n) =" in done.stdout
    return workdir / "report"


def test_report_files_and_pngs(report: Path) -> None:
    for name in ("table.txt", "cost.png", "latency.png", "fit.png", "recommendation.json", "report.html"):
        assert (report / name).stat().st_size > 0, name
    for name in ("cost.png", "latency.png", "fit.png"):
        assert _png_size(report / name) == PNG_SIZE
        from matplotlib.image import imread

        pixels = imread(report / name)
        assert pixels.shape[:2] == (PNG_SIZE[1], PNG_SIZE[0])
        assert pixels.std() > 0.05  # drawn on, not a blank canvas
    summary = json.loads((report / "recommendation.json").read_text())
    chosen = summary["chosen"]
    assert chosen is not None and chosen["meets_target"]
    assert (chosen["simulated_p99_latency_s"] or chosen["p99_latency_s"]) <= 2.0
    assert summary["settings"]["event source mapping"].startswith(f"--batch-size {chosen['batch_size']} ")
    assert len(summary["confirmations"]) >= 1 and summary["confirmations"][0]["meets_target"]


def test_html_report_is_self_contained_and_renders_without_console_errors(report: Path) -> None:
    page = report / "report.html"
    text = page.read_text()
    assert "<script" not in text.lower()
    assert "http://" not in text and "https://" not in text
    assert text.count("data:image/png;base64,") == 3
    seen = open_page(page.as_uri(), probe=IMAGES_PROBE)
    assert seen.loaded
    assert seen.errors == []
    assert seen.probe == [[True, PNG_SIZE[0], PNG_SIZE[1]]] * 3


def _png_description(path: Path) -> str:
    """The PNG's ``Description`` text chunk (the plots list the lines they drew there)."""
    data, at = path.read_bytes(), 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"tEXt":
            key, _, value = data[at + 8 : at + 8 + length].partition(b"\0")
            if key == b"Description":
                return value.decode("latin-1")
        at += 12 + length
    raise AssertionError(f"{path} has no Description")


def test_reports_name_the_price_region_give_the_monthly_cost_and_mark_the_chosen_window(
    tmp_path: Path,
) -> None:
    """Issue 14 §7, through the real command: a price file for another Region, text, JSON, HTML and plots."""
    from batchmap.tuning import default_prices_path

    prices = tmp_path / "eu.toml"
    prices.write_text(default_prices_path().read_text().replace('region = "us-east-1"', 'region = "eu-west-1"'))
    flags = ["--t0-ms", "50", "--t1-ms", "0.2", "--rate", "5", "--latency-p99", "5", "--prices", str(prices),
             "--batch-size", "1,2,5,10,20,50,100,200", "--maximum-batching-window-in-seconds", "0,1,2,3,5,10,20,60"]
    command = [sys.executable, "-m", "batchmap", "tune", *flags]
    text = subprocess.run([*command, "--out", str(tmp_path / "j")], capture_output=True, text=True, check=True)
    assert "$/month" in text.stdout and "prices: eu-west-1" in text.stdout
    summary = json.loads((tmp_path / "j" / "recommendation.json").read_text())  # what --json prints
    chosen = summary["chosen"]
    assert summary["price_region"] == "eu-west-1" and summary["rate"] == 5
    assert chosen["total_usd_per_month"] == pytest.approx(chosen["total_usd_per_million"] * 5 * 2_592_000 / 1e6)
    month = f"${chosen['total_usd_per_month']:,.2f} a month at 5 records/s"
    assert any(month in line and "eu-west-1 prices" in line for line in summary["reasoning"])
    assert month in text.stdout
    page = tmp_path / "j" / "report.html"
    html_text = page.read_text()
    assert "eu-west-1" in html_text and month in html_text
    seen = open_page(page.as_uri(), probe="document.body.innerText")
    assert seen.loaded and seen.errors == []
    assert "eu-west-1" in seen.probe and month in seen.probe
    window = f"{chosen['maximum_batching_window_in_seconds']:g}"
    for name in ("cost.png", "latency.png"):
        drawn = _png_description(tmp_path / "j" / name)
        by_size, by_window = drawn.split("; ")
        assert f"W={window}s (chosen)" in by_size, drawn
        assert f"chosen window {window}s" in by_window and f"B={chosen['batch_size']} (chosen)" in by_window


def test_the_browser_check_does_catch_errors(tmp_path: Path) -> None:
    """The harness above is not blind: a page with an exception and a console error is reported."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>console.error('boom'); missingFunction();</script></body></html>")
    seen = open_page(bad.as_uri())
    assert any("boom" in e for e in seen.errors)
    assert any("missingFunction" in e for e in seen.errors)


def test_nothing_meets_an_impossible_target_exit_status_1(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="batchmap")
    tune.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        [
            "tune",
            "--t0-ms",
            "80",
            "--t1-ms",
            "5",
            "--rate",
            "50",
            "--latency-p99",
            "0.01",
            "--no-simulate",
            "--batch-size",
            "1,10",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert args.func(args) == 1
    summary = json.loads((tmp_path / "r" / "recommendation.json").read_text())
    assert summary["chosen"] is None
    assert any("Nothing meets the target" in line for line in summary["reasoning"])


def test_a_template_function_is_measured_and_compared_with_its_current_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``batchmap tune template.yaml --function-name X``: the function and its mapping from the template."""
    pytest.importorskip("batchmap.templates.tuner", reason="the SAM template reader is not in this build")
    parser = argparse.ArgumentParser(prog="batchmap")
    tune.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        [
            "tune",
            str(APPS / "template.yaml"),
            "--function-name",
            "OrdersFunction",
            "--sample-event",
            str(APPS / "sqs_order_event.json"),
            "--rate",
            "50",
            "--latency-p99",
            "2",
            "--measure-batch-sizes",
            "1,5,10",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--cold-starts",
            "0",
            "--no-simulate",
            "--out",
            str(tmp_path),
        ]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "measuring tune_orders.handler" in out
    assert "Current settings B=5 W=0s 256MB arm64" in out
    summary = json.loads((tmp_path / "recommendation.json").read_text())
    assert summary["current"]["batch_size"] == 5 and summary["current"]["timeout_s"] == 10.0
    assert summary["chosen"]["memory_size"] == 256  # the template's memory is the one tried
    assert summary["chosen"]["total_usd_per_million"] < summary["current"]["total_usd_per_million"]
