"""The inventory provider: an existing cluster described in a YAML file (issue 6; so far its schema only)."""
