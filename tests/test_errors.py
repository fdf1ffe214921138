"""One exception root: every error a product package defines derives from its package's
root, and every root from ``telemetry.errors.EldercareError``, which the command reports
as a message, not a traceback."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from registry import RegistryError
from telemetry.errors import EldercareError

PRODUCT = ["telemetry", "runtime", "registry", "broker_config", "edge_agent", "ingest",
           "alerts", "dashboard", "central", "eldercare_cli"]


def _errors() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in PRODUCT:
        package = importlib.import_module(name)
        modules = [package] + [importlib.import_module(m.name) for m in pkgutil.walk_packages(
            package.__path__, f"{name}.")]
        for module in modules:
            for attr, value in vars(module).items():
                if inspect.isclass(value) and issubclass(value, BaseException) \
                        and value.__module__ == module.__name__:
                    found[f"{module.__name__}.{attr}"] = value
    return found


def test_every_error_of_the_product_derives_from_the_one_root() -> None:
    errors = _errors()
    assert len(errors) >= 15
    assert {name for name, cls in errors.items() if not issubclass(cls, EldercareError)} \
        == set()


def test_every_package_has_one_root_of_its_own() -> None:
    roots = {name.split(".")[0] for name, cls in _errors().items()
             if EldercareError in cls.__bases__}
    assert roots >= {"telemetry", "runtime", "registry", "broker_config", "edge_agent",
                     "ingest", "alerts", "dashboard", "central"}


def test_the_command_reports_any_project_error_as_a_message(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An error no subcommand catches itself reaches ``main``, which prints it (exit 2);
    anything else is a bug and keeps its traceback."""
    from eldercare_cli import install_cmd, main

    def fails(args: object) -> int:
        raise RegistryError("registry.yaml: gateway gw-1 is at unknown site s-9")
    monkeypatch.setattr(install_cmd, "_handle", fails)
    assert main.main(["install", "gateway"]) == 2
    assert capsys.readouterr().err.strip() == \
        "eldercare install: registry.yaml: gateway gw-1 is at unknown site s-9"

    def bug(args: object) -> int:
        raise KeyError("a bug")
    monkeypatch.setattr(install_cmd, "_handle", bug)
    with pytest.raises(KeyError):
        main.main(["install", "gateway"])
