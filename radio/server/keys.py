"""Typed keys: what the app factory puts on the app (and the console on a request)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from radio.settings import Settings

if TYPE_CHECKING:
    from radio.console import Console
    from radio.core import Radio
    from radio.server.events import EventHub

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
RADIO: web.AppKey[Radio] = web.AppKey("radio")
HUB: web.AppKey[EventHub] = web.AppKey("events")
CONSOLE: web.AppKey[Console] = web.AppKey("console")
OPERATOR: web.RequestKey[str] = web.RequestKey("operator", str)  # who acts, once authorised
