"""Instances: the instance format, named sets, extraction from real models, synthetic generators."""
