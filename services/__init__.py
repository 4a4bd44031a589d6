"""Pasokh's shared kernel: what two or more services need (contracts, settings, adapters)."""
