"""Each subcommand is found in the module ``COMMAND_MODULES`` names, so a command can import only that module."""

from __future__ import annotations

import argparse
import importlib

import pytest

from batchmap.cli import COMMAND_MODULES, SUBCOMMANDS, build_parser, main


def registered(module: str) -> list[str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(f"batchmap.cli.{module}").add_parser(sub)
    return list(sub.choices)


def test_every_registered_command_is_mapped_to_its_module() -> None:
    found = {command: module for module in SUBCOMMANDS for command in registered(module)}
    assert found == COMMAND_MODULES


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("command", sorted(COMMAND_MODULES))
def test_a_command_alone_has_the_help_it_has_in_the_full_parser(command: str) -> None:
    alone = commands(build_parser(command))
    assert command in alone and set(alone) < set(COMMAND_MODULES)
    assert alone[command].format_help() == commands(build_parser())[command].format_help()


def test_an_unknown_command_is_answered_with_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sned"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert all(command in err for command in COMMAND_MODULES), err


def test_ctrl_c_while_the_command_loads_is_one_line_and_status_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(command: str | None = None) -> argparse.ArgumentParser:
        raise KeyboardInterrupt

    monkeypatch.setattr("batchmap.cli.build_parser", interrupted)
    assert main(["run", "--help"]) == 130
    assert capsys.readouterr().err == "batchmap: interrupted\n"
