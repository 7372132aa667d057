"""Renderers: pure functions from results to text (rich) or machine formats. Only ``report`` and
``cli`` import rich."""
