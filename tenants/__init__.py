"""Tenants: the YAML config registry, host resolution, per-tenant databases, users and auth, logs."""
