"""A Kubernetes API double: kmock's emulator with the fixes listed in emulator.py, served from a thread."""
