"""Marmalade Falcon: GPS tracks of migrating peregrine falcons."""
