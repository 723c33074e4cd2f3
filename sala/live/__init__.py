"""Presence ("Recently Browsing") and the live event stream."""
