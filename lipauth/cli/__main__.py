"""`python -m lipauth.cli` (torchrun and the tests start it so)."""

from lipauth.cli import app

app()
