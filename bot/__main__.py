"""`python -m bot` is `flux-bot`."""

import sys

from bot.cli import main

sys.exit(main())
