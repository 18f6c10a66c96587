"""The incident board's pages: incidents by severity with their clocks, one incident
with its timeline, steps and actions, and the drills."""
