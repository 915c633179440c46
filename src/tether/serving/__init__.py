"""Serving: the scoring app, request payloads and prediction logs."""
