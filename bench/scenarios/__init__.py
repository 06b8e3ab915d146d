"""One module per scenario; each exposes ``run(ctx) -> Outcome`` and nothing else.

Order matters only for the report: baselines are linked to their subjects by
(scenario, subject, metric) after every selected scenario has run.
"""
