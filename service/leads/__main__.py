"""``python -m service.leads [page]``: render the lifecycle diagram into the architecture page."""

import sys
from pathlib import Path

from .lifecycle import write_diagram

write_diagram(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/architecture.md"))
