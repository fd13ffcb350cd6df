"""On-call drills: a scenario in paced real time, a dashboard, trainee actions, scoring and a debrief.

``marketdrill drill SCENARIO.toml`` runs any scenario of the library as a drill (see
docs/drills.md): :mod:`~scenarios.drill.live` paces the run and applies actions between ticks,
:mod:`~scenarios.drill.server` serves the dashboard, :mod:`~scenarios.drill.score` compares the
run with the counterfactual, and :mod:`~scenarios.drill.debrief` writes and re-checks the debrief.
"""
