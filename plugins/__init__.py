"""The built-in plugins: architectures, the synthetic workload and the chapter's recipes.

Each module here is a plugin registered exactly as an outside plugin would be; read
``plugins/baseline.py`` for the shortest possible recipe plugin.
"""
