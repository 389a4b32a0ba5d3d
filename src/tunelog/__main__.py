"""``python -m tunelog`` runs the command line."""

from tunelog.cli import main

main()
