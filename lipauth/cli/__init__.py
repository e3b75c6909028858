"""The `lipauth` command (Typer + Rich). Library errors become one-line messages and exit 2."""

from lipauth.cli import data, models, people, tools  # noqa: F401,E402  (each registers its commands on app)
from lipauth.cli.common import _overrides, app  # noqa: F401  (the app; _overrides for the tests)
from lipauth.cli.models import training_outcome  # noqa: F401,E402
