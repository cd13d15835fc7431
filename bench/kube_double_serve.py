"""Serve the Kubernetes API double in its own process for bench/drift_pass.py, as a real API server is.

Reads the objects to hold from the JSON file given as argument, prints "<url> <token>" once serving, and
serves until its standard input closes.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

import kmock  # noqa: E402

from provisioning.cluster import ObjectRef  # noqa: E402
from tests.doubles.kube.server import KubeDouble  # noqa: E402


def main() -> None:
    objects = json.loads(Path(sys.argv[1]).read_text())
    with KubeDouble() as double:
        def store(batch):
            emu = double.emulator
            for obj in batch:
                key = double._key(ObjectRef.of(obj))
                fake = kmock.Request(resource=key[0], namespace=key[1], name=obj["metadata"]["name"])
                emu._store(key, emu._new_object(fake, obj, emu.resources[key[0]], "dso-console", "Apply"))

        # In batches: each runs on the double's event loop, which must keep answering in between.
        for start in range(0, len(objects), 1000):
            double._locked(store, objects[start:start + 1000])
        print(double.url, double.token, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
