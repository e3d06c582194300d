"""The offline model's provider name, importable without litellm (which takes seconds)."""

from __future__ import annotations

PROVIDER = "specloom-offline"
OFFLINE_PREFIX = f"{PROVIDER}/"
FINGERPRINT = "specloom-offline"
