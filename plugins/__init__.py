"""The built-in plugins: architectures, the workloads, the chapter's recipes and the outputs (summary.md,
epochs.png, summary.csv/json, mlflow, tensorboard).

Each module here is a plugin registered exactly as an outside plugin would be; read
``plugins/baseline.py`` for the shortest possible recipe plugin.
"""
