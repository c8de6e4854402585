"""Readers and writers of third-party model files."""
