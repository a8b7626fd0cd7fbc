"""Analyses of trained runs: lesions (and, to come, loss landscapes and the probe)."""
