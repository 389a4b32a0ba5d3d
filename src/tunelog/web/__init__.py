"""``tunelog ui``: the web dashboard. :func:`tunelog.web.app.create_app` builds the ASGI app;
:func:`tunelog.web.server.serve` runs it. Imported only when the dashboard is used."""
