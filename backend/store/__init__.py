"""Persistence of the qubes model in the upstream core3 ``qubes.xml`` format."""
