"""Scenario files: pydantic models (models.py and the section configs) and the loader (loader.py)."""
