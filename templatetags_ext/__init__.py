"""Opt-in Django app holding the ``cachetag`` template tag library (``{% load cachetag %}``)."""
