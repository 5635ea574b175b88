"""wpcluster: a test-and-verification harness for a distributed WordPress deployment."""

__version__ = "0.1.0"
