"""Training commands for the embedded demo models: ``python -m vtdemo.train sr|classify``."""
