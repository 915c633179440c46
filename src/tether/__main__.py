"""``python -m tether`` runs the command line."""

from tether.cli.main import run

run()
