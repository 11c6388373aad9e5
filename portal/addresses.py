"""The client's address, the one answer for sign-in protection, pages, the API and the audit.

Behind a proxy the connection comes from the proxy: CLIENT_ADDRESS_HEADER names the header it
puts the client's address in. Asking anywhere else (REMOTE_ADDR directly) records the proxy,
not the person.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_address(request) -> str | None:
    """The client's address. Behind a proxy (CLIENT_ADDRESS_HEADER set), the right-most
    address in that header: the one the proxy added; those left of it come from the client
    and can be forged. Without the setting, or without a readable address in the header,
    the address the connection came from (REMOTE_ADDR)."""
    header = settings.CLIENT_ADDRESS_HEADER
    if header:
        address = _address(request.META.get(header, "").split(",")[-1])
        if address:
            return address
    return request.META.get("REMOTE_ADDR") or None


def _address(text: str) -> str | None:
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
