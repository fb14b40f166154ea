"""The suite stage: a session's options, plan, cases, resume, executor, progress and the pytest plugin."""
