"""The presentation stage: tables, charts and reports made from results (the analysis never imports this)."""
