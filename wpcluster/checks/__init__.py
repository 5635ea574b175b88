"""Checks (Jepsen's checker): bounds and verdicts over a history, routes, the admin surface,
linearizability and the cluster-state assertions. Checks never import faults or load."""
