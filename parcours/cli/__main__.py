"""`python -m parcours.cli`: the `parcours` command without its installed script."""

from parcours.cli import main

main()
