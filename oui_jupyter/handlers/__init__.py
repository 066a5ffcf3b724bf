"""Tornado handlers: parse, authorize, call one service method, write JSON."""
