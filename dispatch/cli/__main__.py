"""`python -m dispatch.cli`: the same as the `dispatch` console script."""

from dispatch.cli import main

main()
