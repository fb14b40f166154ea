"""The built-in plugins: architectures, the workloads, the chapter's recipes and the outputs (summary.md,
epochs.png, summary.csv/json, mlflow, tensorboard).

Each module here is a plugin registered exactly as an outside plugin would be (but ``synthetic_images`` and
``tracker_runs``, helpers the plugins share); read ``plugins/baseline.py`` for the shortest possible recipe
plugin and ``plugins/outputs.py`` for outputs.
"""
