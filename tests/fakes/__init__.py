"""Test doubles that speak the real wire protocols of the services the bot talks to.

Each fake is a real HTTP server on 127.0.0.1, so tests exercise the production
clients (python-telegram-bot, httpx) unmodified, including their serialization
and error mapping:

* ``tests.fakes.telegram_api``: the Telegram Bot API (in-loop or as its own process).
* ``tests.fakes.zalo_servers``: the Zalo OA Open API, OAuth and Zalo Bot API.
"""
