"""The analysis stage: statistics over seeds, compare, ranking, time to target, the matrix, noise and power."""
