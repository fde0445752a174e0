"""The web service: an HTTP API, a WebSocket stream and a page (FastAPI). ``app`` builds it; ``common`` holds
the limits and state the routes share; ``predict`` and ``stream`` add the routes; ``web/`` is the page."""
