"""Moderation: who may generate, where, how much and what."""
