"""Channels: each package translates between one provider's format and Sangdam's messages.

``base.py`` holds the adapter protocol every channel implements; ``webchat/`` is the live chat of
the portal and the app. Channels never decide routing, topics or privacy: they hand an
:class:`~sangdam.conversations.schemas.InboundMessage` to ``conversations.actions.receive_inbound``
and deliver :class:`~sangdam.channels.base.OutboundMessage` values through ``send``.
"""
