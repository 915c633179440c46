"""``python -m tether.cli`` runs the command line."""

from tether.cli.main import run

run()
