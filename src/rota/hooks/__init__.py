"""Webhooks in and out: triggers that start runs from ``POST /hooks/{hook_id}`` and the
signatures that let both ends trust each other's requests."""
