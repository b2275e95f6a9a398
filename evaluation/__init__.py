"""Evaluation of a router: any engine in-process, or a running server over HTTP, scored on a test split.

A package of its own (not part of `training`) because it drives the service's engines and router,
and `training` must not import `service`.
"""
