"""Typed application keys shared by the app and its handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from radio.server.radio import Radio

RADIO: web.AppKey[Radio] = web.AppKey("radio")
