"""Benchmark for the registry watch: IMAGES × TAGS pushed to a real registry on loopback (Debian's
docker-registry), then one full watch (every tag new: tag list + one HEAD per tag, digests recorded, semver
policies selecting) and one watch with nothing new (one tag list per image), through the console's service.

Needs a scratch database (migrated first, rows removed afterwards) and docker-registry installed:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dso_bench .venv/bin/python bench/registry_watch.py [--images 500 --tags 200]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("DSO_ALLOW_HTTP_LOOPBACK", "true")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

# 500 images × 200 tags checked every 5 minutes (the default interval): a watch with nothing new must take a
# small part of that, and the first full watch (100,000 new tags) must finish within the task time limit.
TARGET_UNCHANGED_SECONDS = 60.0
TARGET_FULL_SECONDS = 3000.0


def _blob(session, registry, name: str, content: bytes, digest: str, source: str | None) -> None:
    """Upload ``content`` to ``name`` (monolithic POST + PUT) or, when ``source`` already holds it, mount it
    cross-repository: one request, nothing re-sent."""
    base = f"{registry.url}/v2/{name}/blobs/uploads/"
    if source is not None:
        answer = session.post(f"{base}?mount={digest}&from={source}", timeout=30)
        if answer.status_code == 201:
            return
        location = answer.headers["Location"]  # 202: the registry declined the mount, upload instead
    else:
        location = session.post(base, timeout=30).headers["Location"]
    location = registry.url + location if location.startswith("/") else location
    answer = session.put(f"{location}{'&' if '?' in location else '?'}digest={digest}", data=content,
                         headers={"Content-Type": "application/octet-stream"}, timeout=30)
    assert answer.status_code == 201, answer.text


def push_all(registry, images: int, tags: int, *, workers: int = 16) -> float:
    """One shared config blob and layer blob (uploaded to the first image, mounted into the others), then one
    small manifest per tag (what makes tags distinct for the watch), ``workers`` PUTs at a time, each thread
    on its own keep-alive session: 100,000 manifests take minutes instead of the hour one-by-one took."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from tests.doubles.registry import OCI_CONFIG, OCI_MANIFEST

    import requests

    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = b"dso-bench-layer\n" * 64
    blobs = [(config, "sha256:" + hashlib.sha256(config).hexdigest()),
             (layer, "sha256:" + hashlib.sha256(layer).hexdigest())]
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1))
        return local.session

    def put_manifest(job: tuple[str, int]) -> None:
        name, t = job
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "annotations": {"n": str(t)},
                               "config": {"mediaType": OCI_CONFIG, "digest": blobs[0][1], "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                           "digest": blobs[1][1], "size": len(layer)}]}).encode()
        answer = session().put(f"{registry.url}/v2/{name}/manifests/1.{t // 20}.{t % 20}", data=manifest,
                               headers={"Content-Type": OCI_MANIFEST}, timeout=60)
        assert answer.status_code == 201, answer.text

    started = time.perf_counter()
    names = [f"team/app{i}" for i in range(images)]
    for content, digest in blobs:
        _blob(session(), registry, names[0], content, digest, None)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda name: [_blob(session(), registry, name, c, d, names[0]) for c, d in blobs],
                      names[1:]))
        done = 0
        for _ in pool.map(put_manifest, ((name, t) for name in names for t in range(tags)), chunksize=64):
            done += 1
            if done % 10000 == 0:
                print(f"  pushed {done} manifests in {time.perf_counter() - started:.0f} s", flush=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--tags", type=int, default=200)
    parser.add_argument("--push-workers", type=int, default=16, help="manifest PUTs at once while seeding")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)

    from console.models import ContainerRegistry, Organization, Project, Repository, TagPolicy, WatchedImage
    from console.services.registry_watch import _watch
    from tests.doubles.registry import LoopbackRegistry

    counted = [0]

    def count_query(execute, sql, params, many, context):
        counted[0] += 1
        return execute(sql, params, many, context)

    with tempfile.TemporaryDirectory() as folder:
        registry_server = LoopbackRegistry(Path(folder) / "registry").start()
        stamp = str(int(time.time()))
        organization = Organization.objects.create(slug=f"bench-{stamp}", name="bench")
        project = Project.objects.create(organization=organization, slug="watch", name="watch",
                                         namespace=f"bench-{stamp}-watch")
        try:
            pushed = push_all(registry_server, args.images, args.tags, workers=args.push_workers)
            print(f"setup: pushed {args.images} × {args.tags} tags in {pushed:.1f} s")
            infra = Repository.objects.create(project=project, name="deploy", is_infra=True, deploy_kind="helm",
                                              external_url="https://git.example.com/bench/deploy.git")
            registry = ContainerRegistry.objects.create(project=project, name="bench", url=registry_server.url)
            for i in range(args.images):
                image = WatchedImage.objects.create(registry=registry, repository=f"team/app{i}")
                TagPolicy.objects.create(image=image, repository=infra, kind="semver", constraint="^1")
            for label, target in (("full watch (every tag new)", TARGET_FULL_SECONDS),
                                  ("watch with nothing new", TARGET_UNCHANGED_SECONDS)):
                counted[0] = 0
                with connection.execute_wrapper(count_query):
                    started = time.perf_counter()
                    report = _watch(registry)
                    elapsed = time.perf_counter() - started
                print(f"{label}: {elapsed:.1f} s, {report['requests']} registry requests, {counted[0]} queries, "
                      f"{report['new_tags']} new tags, {len(report['selected'])} selections   target < {target:.0f} s")
        finally:
            registry_server.stop()
            from console.models.images import ImageRelease

            ImageRelease.objects.filter(project=project).delete()
            ContainerRegistry.objects.filter(project=project).delete()
            Repository.objects.filter(project=project).delete()
            project.delete()
            organization.delete()


if __name__ == "__main__":
    main()
