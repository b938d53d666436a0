"""Test harnesses for the real parts: public-inbox, git trees, servers."""
