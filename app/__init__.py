"""Specloom: versioned specs served as typed, validated agent endpoints."""

import os

# litellm must use its bundled cost map (no network); this is read when litellm is imported,
# and every import of litellm in this project goes through the `app` package first.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
