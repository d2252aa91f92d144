"""``python -m sfstream`` runs the command-line interface."""

from sfstream.cli import main

main()
