"""Versioned integration events, one module per producing service."""
