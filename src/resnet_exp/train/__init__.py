"""Iteration-based training: schedule, loop, checkpoints, metrics, run directories."""
