"""Metrics, structured call logs and traces: how operators see the runtime."""
