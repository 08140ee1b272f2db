"""`python -m app` is `flux-bot`."""

import sys

from app.cli import main

sys.exit(main())
