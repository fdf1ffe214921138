"""The site registry: the sample loads; inconsistent files are refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

import registry


def test_the_sample_registry_loads() -> None:
    reg = registry.load(registry.SAMPLE)
    device = reg.device("gw-00001", "wristband")
    assert device is not None and device.resident_id == "res-00001"
    assert reg.residents["res-00001"].wandering_risk
    assert reg.device("gw-00001", "no-such-device") is None


@pytest.mark.parametrize(("edit", "message"), [
    (("gateway_id: gw-00001, site_id: site-000", "gateway_id: gw-00001, site_id: site-404"),
     "unknown site"),
    (("{device_id: pendant, gateway_id: gw-00001, resident_id: res-00001,",
      "{device_id: pendant, gateway_id: gw-00001, resident_id: res-77777,"),
     "unknown resident"),
    (("{device_id: pendant, gateway_id: gw-00001, resident_id: res-00001,",
      "{device_id: pendant, gateway_id: gw-09999, resident_id: res-00001,"),
     "unknown gateway"),
    (("display_name: Test Resident A", "display_name: [not, a, name]"), "display_name"),
    (("sites:", "sites: [\n"), "registry.yaml"),
])
def test_an_inconsistent_registry_is_refused(tmp_path: Path, edit: tuple[str, str],
                                             message: str) -> None:
    text = registry.SAMPLE.read_text()
    assert edit[0] in text
    path = tmp_path / "registry.yaml"
    path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(registry.RegistryError, match=message):
        registry.load(path)
