"""Loading handlers from the three spellings Lambda, SAM and Python use, and every way it can fail."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchmap.config.function import FunctionConfig
from batchmap.engine.loader import load_function, parse_handler
from batchmap.errors import FunctionLoadError


@pytest.mark.parametrize(
    ("handler", "module", "attribute"),
    [
        ("app:handler", "app", "handler"),
        ("pkg.app:Handler.run", "pkg.app", "Handler.run"),
        ("app.handler", "app", "handler"),
        ("pkg.app.handler", "pkg.app", "handler"),
        ("src/pkg/app.handler", "src.pkg.app", "handler"),
        ("app.py:handler", "app", "handler"),
        ("  app.handler ", "app", "handler"),
        ("kinesis-consumer-fn.lambda_handler", "kinesis-consumer-fn", "lambda_handler"),
        ("src/2-consumers/my-fn.handler", "src.2-consumers.my-fn", "handler"),
    ],
)
def test_handler_spellings(handler: str, module: str, attribute: str) -> None:
    ref = parse_handler(handler)
    assert (ref.module, ref.attribute) == (module, attribute)


@pytest.mark.parametrize(
    "handler", ["app", "app:", ":handler", "app.", "my app.handler", "app:1x", "a..b.c", "app.my-fn", "a/../b.c"]
)
def test_malformed_handler_names(handler: str) -> None:
    with pytest.raises(FunctionLoadError) as caught:
        parse_handler(handler)
    assert caught.value.error_type == "Runtime.MalformedHandlerName"
    assert repr(handler) in str(caught.value)


@pytest.fixture
def code(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A code folder with a uniquely named package, as SAM's CodeUri would hold."""
    package = f"bmpkg_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "app.py").write_text(
        "import os\n"
        "SEEN = os.environ.get('BM_LOADER_SETTING')\n"
        "def handler(event, context):\n    return SEEN\n"
        "async def async_handler(event, context):\n    return 1\n"
    )
    (tmp_path / package / "broken.py").write_text("def handler(event, context)\n    return 1\n")
    yield tmp_path, package
    for name in [m for m in sys.modules if m.startswith(package)]:
        del sys.modules[name]
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def test_sam_style_handler_relative_to_the_code_path(code: tuple[Path, str]) -> None:
    root, package = code
    config = FunctionConfig(f"{package}/app.handler", code_path=str(root), environment={"BM_LOADER_SETTING": "x"})
    loaded = load_function(config)
    assert sys.path[0] == str(root)
    assert loaded.function({}, None) == "x"  # the environment was applied before the import
    assert loaded.is_async is False and loaded.init_duration_ms >= 0
    assert load_function(FunctionConfig(f"{package}.app:async_handler", code_path=str(root))).is_async


def test_a_module_file_named_with_hyphens_imports_as_lambda_imports_it(code: tuple[Path, str]) -> None:
    root, package = code
    (root / package / "consumer-fn.py").write_text("def lambda_handler(event, context):\n    return event['n'] + 1\n")
    loaded = load_function(FunctionConfig(f"{package}/consumer-fn.lambda_handler", code_path=str(root)))
    assert loaded.function({"n": 1}, None) == 2


def test_a_syntax_error_is_lambdas_user_code_syntax_error(code: tuple[Path, str]) -> None:
    root, package = code
    with pytest.raises(FunctionLoadError) as caught:
        load_function(FunctionConfig(f"{package}.broken.handler", code_path=str(root)))
    assert caught.value.error_type == "Runtime.UserCodeSyntaxError"
    assert f"{package}.broken" in str(caught.value)


def test_a_code_path_that_is_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(FunctionLoadError, match="not a folder"):
        load_function(FunctionConfig("app.handler", code_path=str(tmp_path / "missing")))
