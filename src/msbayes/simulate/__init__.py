"""Vectorized trial simulator and analyses (two-arm here; dose-finding in its own modules).

The entry point is :func:`msbayes.simulate.engine.simulate_cell`.
"""

__all__: list[str] = []
