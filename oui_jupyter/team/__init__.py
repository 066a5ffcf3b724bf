"""The oui team service (issue #16): ``python -m oui_jupyter.team``, run by JupyterHub.

One jupyter_server process with only the oui extension in ``team_mode="service"``: it alone
holds the team database, the connections and their keys; the hub says who calls it
(``auth.py``). User servers (``team_mode="client"``) talk to it as their users.
"""
