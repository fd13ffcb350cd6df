"""The adversarial layer: scenario files, the runner, reports and the marketdrill command."""
