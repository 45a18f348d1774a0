"""``sangdam.web.asgi:app`` for several worker processes (``sangdam serve --workers N``)."""

import sys

from sangdam.web.app import create_app

sys.setswitchinterval(0.0005)  # see cli.cmd_serve

app = create_app()
app.state.freeze_gc = True  # see web.app's lifespan
