"""The offline model's name: deployments whose model starts with `specloom-offline/`."""

from __future__ import annotations

PROVIDER = "specloom-offline"
OFFLINE_PREFIX = f"{PROVIDER}/"
