"""Test doubles that speak real protocols: the fake model upstream."""
