"""Adapters to the systems DSO Console drives: forge, mirror, manifests, delivery, cluster, image tags.

Plain Python on purpose: nothing here imports Django, so every adapter is built from plain
configuration values and can be exercised on its own against loopback test doubles.
"""
