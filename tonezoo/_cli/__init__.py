"""Sub-command groups of the ``tonezoo`` command (one module per area)."""
