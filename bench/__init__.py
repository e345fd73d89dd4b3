"""Benchmarks: the real bot against the Bot API emulator, each in its own process."""
