"""Load (Jepsen's generator): readers that write the history, and the failover experiment that
runs faults on it."""
