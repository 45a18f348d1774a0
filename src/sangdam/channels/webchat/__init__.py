"""Web chat (채팅 상담): the portal/app chat widget, its FAQ bot stage and the hand-off to a person.

Modules: ``service.py`` (every change: start/resume, post exactly once, bot stage, hand-off, read
markers, leave a message, close, CSAT, transcript e-mail), ``ws.py`` (the customer WebSocket
``/chat/ws`` and the per-process hub that fans bus events out to connected customers),
``views.py`` (the portal page ``/chat``), ``../../web/static/widget.js`` (the embeddable widget).

A chat is an ordinary conversation (``channel = "webchat"``) whose messages are ordinary
``messages`` rows; ``models/chat.py`` holds what chat adds (resumable sessions, read markers, CSAT,
canned responses). It starts in status ``bot``; the hand-off puts it in routing (``queued``).

Events on the bus
-----------------
Every chat event's ``data`` carries the conversation fields the console filters on
(``conversation_id``, ``receipt_number``, ``status``, ``topic_id``, ``assignee_id``, ``channel``,
``priority``) plus the fields below; ``Event.conversation_id`` is set.

``message.created`` (existing kind)
    also for the bot's answers (``sender_kind = "bot"``) and system notices (``"system"``);
    ``message_id`` is the stored message. Customer messages keep ``sender_kind = "customer"``.
``conversation.created`` / ``conversation.updated`` (existing kinds)
    a chat's first message opens the conversation (then ``conversation.updated`` with status ``bot``);
    the customer ending the chat publishes ``conversation.updated`` with ``closed_by = "customer"``.
``chat.typing``
    ``side`` (``customer`` | ``agent``), ``typing`` (bool), ``agent_id`` (agent side). Not stored.
    The agent console publishes it with :func:`service.publish_typing` (``side="agent"``); the
    customer's widget publishes it through ``/chat/ws`` (at most one per state change, ≥ 1.5 s apart).
``chat.read``
    ``side``, ``message_id`` (the last message that side has seen; only ever moves forward),
    ``agent_id``. Stored in ``chat_conversations``. The console marks agent reads with
    :func:`service.mark_read` (``side="agent"``): the customer's widget then shows 읽음.
``chat.handoff``
    the bot handed the chat to routing: ``reason`` (``requested`` 상담원 연결 | ``sensitive`` lost card,
    fraud, disputes | ``low_confidence`` | ``repeated_failure`` second failed answer), ``topic_code``
    (detected, may be None), ``confidence``. ``routing.queued`` follows; the console shows the bot
    transcript from the conversation's messages.
``chat.presence``
    ``online`` (bool), ``connections`` (the customer's open sockets for that chat on the publishing
    worker, after the change).
``chat.left_message``
    out of hours, the customer left a message: the chat became an inquiry (status ``queued``, in
    the inbox, not routed live) with ``contact_phone`` and consent; ``receipt_number`` to look it up.
``chat.rated``
    ``score`` (1–5) after close; the comment is stored (masked) in ``csat_ratings``.

The waiting customer's queue position and wait estimate are not bus events: each worker computes
them for its own connected customers (on ``routing.*`` / ``conversation.updated`` events and every
``QUEUE_REFRESH_S`` seconds) and sends them as ``queue`` frames.

Customer WebSocket ``/chat/ws`` (JSON text frames)
--------------------------------------------------
Client → server (``client_id``: the widget's id for one message, unique per chat; a resent frame
with the same id is stored once and acknowledged again):

- ``{"type": "hello", "token": str | null, "after": int, "language": "ko" | "en", "name": str?}``
  first frame; ``after`` = the last message id the widget has (0 for all).
- ``{"type": "message", "client_id": str, "body": str}``
- ``{"type": "quick_reply", "client_id": str, "value": "helpful" | "other" | "agent"}``
- ``{"type": "topic", "client_id": str, "code": str}`` — the customer picked a topic.
- ``{"type": "attachment", "client_id": str, "filename": str, "data": base64, "body": str?}`` — checked
  like an inquiry's files (count, size, real type); ``{"type": "file", "id": int}`` asks for one of the
  chat's attachments, answered with ``file`` {id, filename, content_type, data (base64)}.
- ``{"type": "typing", "typing": bool}``; ``{"type": "read", "message_id": int}``; ``{"type": "ping"}``
- ``{"type": "leave_message", "client_id", "name", "phone", "email"?, "body", "consent": bool}``
- ``{"type": "close"}``; ``{"type": "rate", "score": 1-5, "comment": str}``;
  ``{"type": "transcript", "email": str}``

A socket sends at most ``RATE_BURST`` messages at once, refilled at ``RATE_PER_S`` (``error``
``too_many_requests``: the widget resends later). A message's ``ack`` carries the stored message
(masked); the same message reaches the customer's other tabs as a ``message`` frame.

Server → client:

- ``welcome`` {token, receipt_number?, status, hours {open, message, opens_at}, topics [{code, name}],
  greeting}; then ``message`` frames after ``after`` in id order, then the current state frames.
- ``message`` {id, sender ("customer" | "agent" | "bot" | "system"), body (masked), created_at,
  client_id?, agent_name?, quick_replies [..]?, attachments [..]}
- ``ack`` {client_id, message_id, duplicate}; ``error`` {code, message, message_en, client_id?}
- ``typing`` {side: "agent", typing}; ``read`` {side: "agent", message_id}
- ``queue`` {position, state, wait_seconds, text}; ``status`` {status, label, ended (bool),
  receipt_number, rated? (on resume)}
- ``offline`` {message, opens_at} (no agent now: offer to leave a message);
  ``left_message`` {receipt_number}; ``rated`` {score}; ``transcript`` {sent: bool}; ``pong``.
"""
