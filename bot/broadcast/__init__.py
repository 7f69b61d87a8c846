"""Broadcast delivery: per-channel senders and pacing (`senders`, `limits`), the delivery
engine (`engine`), the APScheduler-based service that arms scheduled and recurring
broadcasts from the store (`service`), and their assembly (`wiring`).

Kept import-light: the command line and the local chat load only what they use.
"""
