"""The product's wheel holds the product only: what a gateway or a central server runs.
The tools (simulator, service harness, evaluation, benchmarks) stay in the source
checkout (``tools/``, their own distribution)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = {"firmware_stubs", "harness", "evaluation", "bench"}
PRODUCT = {"telemetry", "runtime", "registry", "broker_config", "edge_agent", "ingest",
           "alerts", "dashboard", "central", "eldercare_cli"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The product's wheel, built from a copy of the checkout (no build files left in
    it) without a network."""
    src = tmp_path_factory.mktemp("src") / "eldercare"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "*.egg-info", "__pycache__", "artifacts", "build", ".*_cache"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(src)], check=True, timeout=300)
    (built,) = out.glob("eldercare-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_holds_the_product_and_no_tool(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist()
            if not name.split("/")[0].endswith(".dist-info")}
    assert tops == PRODUCT
    assert not [n for n in wheel.namelist() if n.split("/")[0] in TOOLS]


def test_the_wheel_carries_the_desk_page_and_samples(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "dashboard/static/index.html" in names
    assert "alerts/policy.sample.yaml" in names


def test_a_gateway_needs_none_of_the_central_dependencies(wheel: zipfile.ZipFile) -> None:
    """``pip install eldercare`` is what a gateway runs; the central server's libraries
    come with the ``central`` extra."""
    (meta,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    requires = [line.split(":", 1)[1].strip() for line in
                wheel.read(meta).decode().splitlines() if line.startswith("Requires-Dist:")]
    base = {r.split(">")[0].split("[")[0].split(";")[0].strip() for r in requires
            if "extra ==" not in r}
    assert base == {"msgspec", "paho-mqtt", "numpy", "pyyaml", "prometheus-client",
                    "cryptography"}
    central = " ".join(r for r in requires if 'extra == "central"' in r)
    for name in ("fastapi", "scikit-learn", "psycopg", "influxdb-client"):
        assert name in central
