"""The registry from its YAML file (a sample ships beside this package's modules),
validated with msgspec."""

from __future__ import annotations

from pathlib import Path

import msgspec
import yaml

from registry.model import Registry, RegistryError, RegistryFile
from telemetry import topics


def load(path: Path) -> Registry:
    try:
        raw = yaml.safe_load(path.read_text())
        return Registry(msgspec.convert(raw, RegistryFile))
    except OSError as exc:
        raise RegistryError(f"cannot read {path}: {exc}") from exc
    except (yaml.YAMLError, msgspec.ValidationError, topics.TopicError) as exc:
        raise RegistryError(f"{path}: {exc}") from exc


SAMPLE = Path(__file__).with_name("registry.sample.yaml")
