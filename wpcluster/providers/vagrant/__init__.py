"""The vagrant provider: the seed's coreos-vagrant cluster (issue 6; so far its rendering only)."""
