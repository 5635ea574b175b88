"""The vagrant provider: the seed's coreos-vagrant cluster brought up, faulted and torn down through python-vagrant."""
