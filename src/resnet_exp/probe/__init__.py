"""Why deep plain nets train worse: per-layer signal statistics (Figure 7) and the deep linear demo."""
