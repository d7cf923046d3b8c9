"""Measuring answers: datasets, run records, bench and sweep, metrics, the judge and the reports."""
