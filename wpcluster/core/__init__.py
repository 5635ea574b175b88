"""The core every layer stands on: the cluster's shape and profiles, the cluster interface, waits,
errors, the run's folder and time ledger, the history's records and the deployment's names."""
