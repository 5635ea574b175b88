"""The two jobs (certification, self-check) and their time figures."""
