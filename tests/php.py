"""PHP (Debian's ``php-cli``, installed by ``make test``) as the judge of PHP-shaped requests."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

PHP = shutil.which("php") or "/usr/bin/php"

# What the While1 PBX does with our POST: parse it, take the hash out, rebuild, compare.
PHP_VERIFY = r"""
parse_str(stream_get_contents(STDIN), $params);
$given = $params['api_hash'];
unset($params['api_hash']);
echo json_encode([
    'valid' => md5(http_build_query($params) . $argv[1]) === $given,
    'params' => $params,
]);
"""


def php_verify(body: str, api_key: str) -> dict[str, Any]:
    """PHP's verdict on a signed originate-call body, and the params PHP read from it."""
    result = subprocess.run(
        [PHP, "-r", PHP_VERIFY, "--", api_key],
        input=body.encode(),
        capture_output=True,
        check=True,
        timeout=30,
    )
    verdict: dict[str, Any] = json.loads(result.stdout)
    return verdict
