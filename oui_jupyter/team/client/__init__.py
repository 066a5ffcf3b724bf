"""The user server of a team hub (``OuiJupyter.team_mode == "client"``).

It keeps what must stay with the user's files (the workspace index and its search) and
forwards every other ``oui/api/...`` route, the events WebSocket included, to the oui team
service (``OuiJupyter.team_url``) with the server's hub token, acting as its user. The
exact split is ``routes.CLIENT_ROUTES``.
"""
