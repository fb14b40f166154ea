"""The record stage: the result model, its JSON schema and upgrades, the store and safe file writes."""
