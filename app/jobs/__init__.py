"""Batches and asynchronous jobs, run by `specloom worker` processes on procrastinate."""
