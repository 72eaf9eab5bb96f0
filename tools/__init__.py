"""Build tooling (not shipped)."""
