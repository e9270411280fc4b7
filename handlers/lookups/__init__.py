"""Lookups: fees and how to pay, dossier status by code or QR, QR posters.

Pure logic lives here (fees, dossier codes and import, QR decoding, posters, notices);
``handlers/lookups/router.py`` turns it into conversation, ``bot/cli.py`` into commands.
"""
