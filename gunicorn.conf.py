"""gunicorn settings from CALLGATE_* variables: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

import sys

from service.config import ConfigError, Settings
from service.server import gunicorn_options, share_generated_secret

try:
    _settings = Settings.from_env()
except ConfigError as _error:
    print(f"callgate: configuration error: {_error}", file=sys.stderr)
    sys.exit(2)

share_generated_secret(_settings)
globals().update(gunicorn_options(_settings))
