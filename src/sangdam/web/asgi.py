"""``sangdam.web.asgi:app`` for several worker processes (``sangdam serve --workers N``)."""

from sangdam.web.app import create_app

app = create_app()
