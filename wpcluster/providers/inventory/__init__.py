"""The inventory provider: an existing cluster described in a YAML file certified as it is, over SSH."""
