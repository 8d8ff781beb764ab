"""Discord command groups: each parses an interaction, calls the core in ``bot``, renders."""
