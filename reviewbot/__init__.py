"""reviewbot: an automated reviewer for Linux memory-management patch series."""

__version__ = "0.1.0"
