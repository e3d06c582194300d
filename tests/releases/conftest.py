"""Release fixtures: the serving tests' fake upstream and the app wired to it."""

from tests.serving.conftest import (
    ApiFactory,
    api,
    make_api,
    serving_app,
    serving_settings,
    upstream,
    upstream_server,
)

__all__ = [
    "ApiFactory",
    "api",
    "make_api",
    "serving_app",
    "serving_settings",
    "upstream",
    "upstream_server",
]
