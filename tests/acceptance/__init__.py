"""Acceptance tests: a real ``geobatch serve`` on 127.0.0.1, driven over HTTP with httpx."""
