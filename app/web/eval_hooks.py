"""Where the pages meet the evaluation work that lands separately (branch `eval`): contract
classification on the diff page, case generation and rule coverage on the tests page.

Isolated here so wiring them in touches one module. Until then each hook says "not
available" (None / False) and the pages leave the feature out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Spec


def contract_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """The contract classification of two documents ({breaking, changes}), if available."""
    return None


GENERATE_AVAILABLE = False


async def rules_without_case(session: AsyncSession, spec: Spec) -> list[str] | None:
    """The rules of the latest version no test case covers, if coverage is available."""
    return None
