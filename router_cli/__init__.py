"""The `router` console script: one sub-command group per package, mounted here."""
