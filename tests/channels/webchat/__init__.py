"""Tests of sangdam.channels.webchat."""
