"""API keys, their scopes and limits, and the audit trail of management actions."""
