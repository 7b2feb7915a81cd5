"""Simulation configs (SimConfig), endpoint model, scenarios and design priors."""

__all__: list[str] = []
