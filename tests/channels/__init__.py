"""Tests of sangdam.channels."""
