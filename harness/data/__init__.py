"""The data stage: where a run's images come from, checked, cached and loaded as the chapter's DataBlock."""
