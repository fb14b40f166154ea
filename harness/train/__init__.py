"""The training stage: one run, from the Learner through the recipe to its measured result."""
