"""ASGI scope extensions (`scope["extensions"]`) that `llmroute up`'s HTTP protocol offers the app.

`ON_DISCONNECT`: a list the app may add callbacks to; `GuardedHttpToolsProtocol`
(governance/limits.py) calls them if the client disconnects before its response is complete.
Cheaper than a task per request waiting on `receive()` for the disconnect; under other servers
the proxy endpoint falls back to such a task (proxy/endpoint.py).
"""

ON_DISCONNECT = "llmroute.on_disconnect"
