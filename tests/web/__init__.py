"""Dashboard tests: pages, JSON API, token actions, headless Chromium."""
