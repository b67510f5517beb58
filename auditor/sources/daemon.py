# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: an image held by a running Docker engine (`docker:NAME:TAG`).

The engine's `docker save` stream (Docker SDK) is written, size-bounded, into the work
dir and read by the same archive reader as any embedded docker-archive. DOCKER_HOST and
friends select the engine, as for the docker CLI.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..errors import InputError, LimitExceededError, ToolError
from ..model import Embedding, ImageSource
from .blobs import TarIndex
from .docker_archive import read_archive

PREFIX = "docker:"


def is_daemon_ref(target: str) -> bool:
    return target.startswith(PREFIX) and len(target) > len(PREFIX)


def open_daemon(target: str, work: Path, *, max_bytes: int = 32 << 30,
                timeout: int = 600) -> list[ImageSource]:
    import docker
    from docker.errors import DockerException, ImageNotFound, NotFound

    ref = target[len(PREFIX):]
    try:
        client = docker.from_env(timeout=timeout)
        image = client.images.get(ref)
    except (ImageNotFound, NotFound):
        raise InputError(f"{target}: no such image in the Docker engine") from None
    except DockerException as exc:
        raise ToolError(f"{target}: cannot reach the Docker engine ({exc})") from None
    work.mkdir(parents=True, exist_ok=True)
    dest = work / "daemon-export.tar"
    tmp = dest.with_suffix(".part")
    written = 0
    try:
        with open(tmp, "wb") as out:
            for chunk in image.save(chunk_size=1 << 20, named=True):
                written += len(chunk)
                if written > max_bytes:
                    raise LimitExceededError(f"{target}: export exceeds {max_bytes} bytes")
                out.write(chunk)
    except DockerException as exc:
        raise ToolError(f"{target}: export from the Docker engine failed ({exc})") from None
    finally:
        client.close()
    os.replace(tmp, dest)
    images = read_archive(TarIndex(dest, target), target, Embedding.DAEMON)
    return [replace(i, source=target) for i in images]
