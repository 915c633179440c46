"""Tether's own fixtures come from its pytest plugin, registered as an entry point."""
