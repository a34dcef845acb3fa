"""Attribution as a browser holds it: Ringostat's rngst2 cookie and Google Analytics' _ga."""

from __future__ import annotations

import json
from urllib.parse import quote

UTMZ = {
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "spring",
    "utm_content": "ad1",
    "utm_term": "call me",
}
# URL-encoded JSON, as Ringostat's tracking script writes the cookie.
RNGST2 = quote(json.dumps({"utmz": UTMZ, "sl": "x"}), safe="")
GA = "GA1.2.1234567890.1700000000"
CLIENT_ID = "1234567890.1700000000"
