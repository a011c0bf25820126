"""Allow ``python -m mobisim``."""

from mobisim.cli import main

main()
