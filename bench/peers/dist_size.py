"""Installed size of distributions and their dependency closure (stdlib only; any venv).

``python dist_size.py seqrec scikit-rec[torch] ...`` prints JSON: for each root, the
distributions it pulls in (``Requires-Dist`` followed transitively, environment markers
and requested extras evaluated) with the apparent size of the files each one installed
(its RECORD, ``.pyc`` included), and the total. Also the apparent size of the whole
site-packages folder.
"""

from __future__ import annotations

import os
import re
import sys
import sys as _sys
import sysconfig
from importlib import metadata
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # bench/common.py
from common import emit  # noqa: E402

try:
    from packaging.markers import Marker, UndefinedEnvironmentName
    from packaging.requirements import Requirement
except ImportError:  # every venv has pip, which vendors packaging
    from pip._vendor.packaging.markers import Marker, UndefinedEnvironmentName
    from pip._vendor.packaging.requirements import Requirement


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_bytes(dist: metadata.Distribution) -> int:
    total = 0
    seen = set()
    for f in dist.files or []:
        path = os.path.realpath(f.locate())
        if path in seen:
            continue
        seen.add(path)
        try:
            total += os.path.getsize(path)
        except OSError:
            pass
    return total


def closure(root: str) -> dict[str, int]:
    req = Requirement(root)
    todo = [(canonical(req.name), set(req.extras))]
    done: dict[str, int] = {}
    while todo:
        name, extras = todo.pop()
        if name in done:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        done[name] = dist_bytes(dist)
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is not None:
                envs = [{"extra": e} for e in (extras or {""})]
                try:
                    if not any(Marker(str(sub.marker)).evaluate(env) for env in envs):
                        continue
                except UndefinedEnvironmentName:
                    continue
            todo.append((canonical(sub.name), set(sub.extras)))
    return done


def folder_bytes(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def main() -> None:
    site = sysconfig.get_paths()["purelib"]
    out = {"site_packages": site, "site_packages_bytes": folder_bytes(site), "roots": {}}
    for root in sys.argv[1:]:
        dists = closure(root)
        out["roots"][root] = {"dists": dict(sorted(dists.items(), key=lambda kv: -kv[1])),
                              "total_bytes": sum(dists.values())}
    emit(out)


if __name__ == "__main__":
    main()
