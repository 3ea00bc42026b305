"""Failure-mode analysis of a study folder: loading, classification, charts, report."""
