"""The WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Plain ``gunicorn wsgi:app`` works too: the app brings a fresh database's schema to head itself
(``CALLGATE_AUTO_MIGRATE``), or refuses to start with one line naming ``callgate db upgrade``.
"""

import sys

from service import create_app
from service.config import ConfigError
from service.database.schema import SchemaBehind

# gunicorn's "worker failed to boot": the arbiter stops instead of restarting workers forever.
_WORKER_BOOT_ERROR = 3

try:
    app = create_app()
except (ConfigError, SchemaBehind) as _error:
    kind = "configuration error: " if isinstance(_error, ConfigError) else ""
    print(f"callgate: {kind}{_error}", file=sys.stderr)
    sys.exit(_WORKER_BOOT_ERROR)
