"""The ground floor: the spine every room shares. Imports nothing of ours.

Events (what providers yield and surfaces encode), errors (status and envelope), ids,
money, the Provider protocol and its kinds, the typed request every surface produces, and
the settings' types.
"""
