"""Talking to LLMs and embedding models."""
