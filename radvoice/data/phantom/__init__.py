"""Procedural chest CT phantom: anatomy, findings, texture and real-CT backgrounds (no Qt)."""
