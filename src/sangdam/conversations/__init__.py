"""Conversation lifecycle, messages, notes, receipt numbers, receive_inbound / send_outbound."""
