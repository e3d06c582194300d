"""Why each model of a failed call was passed over, and whether trying again could help.

Read from the execution record, so the 502/503 details name every model the call tried or
skipped (not only the last), in the order routing reached them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.executions.record import AttemptRecord, ExecutionRecord

_WHY = {
    "valid": "answered",
    "repaired": "answered",
    "unparseable": "gave no JSON object",
    "schema_invalid": "gave output that breaks the schema",
    "check_failed": "gave output that fails the spec's checks",
    "repeated": "repeated an answer it had been told was invalid",
    "truncated": "was cut off at its output limit",
    "timeout": "timed out",
    "rate_limited": "was rate limited by its provider",
    "server_error": "failed with a server error",
    "connection_error": "could not be reached",
    "bad_request": "rejected the request",
    "auth_error": "refused the credentials",
    "queue_timeout": "had no free slot before the deadline",
}
# Outcomes that say the model may answer later: the same call may succeed if retried.
_PASSING = frozenset(
    {
        "timeout",
        "rate_limited",
        "server_error",
        "connection_error",
        "breaker_open",
        "rate_limited_local",
        "queue_timeout",
    }
)


@dataclass(frozen=True)
class Turn:
    """One model's turn in the call: its name and its last attempt."""

    model: str
    last: AttemptRecord


def turns(record: ExecutionRecord) -> list[Turn]:
    """The call's turns: a turn starts with a first ask, a fallback, an escalation or a skip."""
    found: list[Turn] = []
    for attempt in record.attempts:
        starts = attempt.kind in ("ask", "fallback", "escalation", "skip") or not found
        if starts:
            found.append(Turn(attempt.model, attempt))
        else:
            found[-1] = Turn(found[-1].model, attempt)
    return found


def reasons(record: ExecutionRecord) -> str:
    """Every model of the call and why it gave no answer ("a: timed out; b: circuit open")."""
    return "; ".join(f"{t.model}: {_why(t.last)}" for t in turns(record))


def retry_may_help(record: ExecutionRecord, temperature: float | None) -> bool:
    """Whether the same call, sent again, could plausibly get an answer: a model was only
    unavailable for now, or answered invalidly but not deterministically."""
    outcomes = {t.last.outcome for t in turns(record)}
    if outcomes & _PASSING:
        return True
    if "repeated" in outcomes or temperature == 0:
        return False
    return bool(outcomes & {"unparseable", "schema_invalid", "check_failed"})


def _why(attempt: AttemptRecord) -> str:
    if attempt.kind == "skip" and attempt.error:
        return attempt.error
    return _WHY.get(attempt.outcome, attempt.outcome.replace("_", " "))
