"""All tables, imported here so Alembic and the app see the whole schema."""

from app.models.api_key import ApiKey
from app.models.audit_event import AuditEvent
from app.models.base import Base
from app.models.dead_letter import DeadLetter
from app.models.evaluation import TestCase, TestResult, TestRun
from app.models.execution import Attempt, Execution
from app.models.execution_hourly import ExecutionDaily, ExecutionHourly, ExecutionHourlyLatency
from app.models.guardrails import AgentGuardrails, ReleaseRequest
from app.models.job import Job, JobItem, WebhookDelivery
from app.models.model_matrix import ModelMatrix
from app.models.person import Invitation, Person
from app.models.release import Release
from app.models.resilience import BreakerState, Budget, RateWindow, ResponseCacheEntry, Spend
from app.models.rollout import Label, Rollout, Shadow
from app.models.spec import Spec
from app.models.spec_version import SpecVersion
from app.models.stored_file import StoredFile
from app.models.web_session import EndedWebSession

__all__ = [
    "AgentGuardrails",
    "ApiKey",
    "Attempt",
    "AuditEvent",
    "Base",
    "BreakerState",
    "Budget",
    "DeadLetter",
    "EndedWebSession",
    "Execution",
    "ExecutionDaily",
    "ExecutionHourly",
    "ExecutionHourlyLatency",
    "Invitation",
    "Job",
    "JobItem",
    "Label",
    "ModelMatrix",
    "Person",
    "RateWindow",
    "Release",
    "ReleaseRequest",
    "ResponseCacheEntry",
    "Rollout",
    "Shadow",
    "Spec",
    "SpecVersion",
    "Spend",
    "StoredFile",
    "TestCase",
    "TestResult",
    "TestRun",
    "WebhookDelivery",
]
