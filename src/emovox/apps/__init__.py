"""User-facing applications built on the emovox library: the desktop app and the web server."""
