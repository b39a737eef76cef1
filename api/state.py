"""Typed keys for what the aiohttp application holds."""

from __future__ import annotations

from aiohttp import web

from api.limits import RateLimiter
from api.oidc import OidcVerifier
from api.tokens import TokenStore
from api.waiting import Advances, Writer
from ledger.application import Ledger
from ledger.config import Settings
from projections.db import ReadDB
from projections.runner import Projector

SETTINGS = web.AppKey("settings", Settings)
LEDGER = web.AppKey("ledger", Ledger)
DB = web.AppKey("db", ReadDB)
PROJECTOR = web.AppKey("projector", Projector)
TOKENS = web.AppKey("tokens", TokenStore)
OPENAPI = web.AppKey("openapi", bytes)
WRITER = web.AppKey("writer", Writer)
ADVANCES = web.AppKey("advances", Advances)
LIMITER = web.AppKey("limiter", RateLimiter)
OIDC = web.AppKey("oidc", OidcVerifier)  # set only with LEDGER_OIDC_ISSUER
