"""Pytest plugin: the real vLLM server fixture (to be written)."""
