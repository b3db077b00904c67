"""Security headers on every response, and the cookie rules they go with.

The pages use no inline script or style (the coach's pages load /static files only), so the
Content-Security-Policy can allow footy's own origin and nothing else. ``blob:`` is footy's own
content too (a page may show a local preview of the file being uploaded).
"""
from __future__ import annotations

from flask import Flask, Response, request

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    "media-src 'self' blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

HSTS = "max-age=31536000; includeSubDomains"


def _csp() -> str:
    """CSP, plus the object store's origin for images and media when it serves them by redirect."""
    from flask import current_app

    origins = getattr(current_app.extensions.get("footy.storage"), "media_origins", ())
    if not origins:
        return CSP
    extra = " " + " ".join(origins)
    return CSP.replace("img-src 'self' blob:", "img-src 'self' blob:" + extra).replace(
        "media-src 'self' blob:", "media-src 'self' blob:" + extra)


def add_security_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value  # always ours: no view may loosen them
    response.headers["Content-Security-Policy"] = _csp()
    if request.is_secure or _production():
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    # pages and JSON carry one coach's data: never kept by a shared cache
    if response.mimetype in ("text/html", "application/json") and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    response.vary.add("Cookie")
    return response


def _production() -> bool:
    from flask import current_app

    return current_app.config.get("FOOTY_ENV") == "production"


def register(app: Flask) -> None:
    """Called once from create_app()."""
    app.after_request(add_security_headers)
