"""`python -m canonry`: the same as the `canonry` command."""

from .cli.main import main

main()
