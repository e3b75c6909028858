"""`lipauth preprocess --dask ADDRESS`: the clips of a corpus processed on a Dask cluster
(dask.distributed) instead of this machine's processes. Each worker builds its pipeline once
and writes each clip's .npz itself, atomically, to the output folder: on a real cluster that
folder must be one every worker and this machine see (NFS, a cluster file system). This
process keeps the manifest, as on one machine, so a run resumes the same way.

ADDRESS: a scheduler (`tcp://host:8786`, started with `dask scheduler` and `dask worker`), or
`local:N` for a cluster of N worker processes on this machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from lipauth.errors import InvalidInputError


CONNECT_TIMEOUT_S = 30.0


def run_on_dask(todo: list, out: Path, corpus: str, config, address: str) -> Iterable[dict]:
    """Manifest rows as the clips finish, in any order."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise InvalidInputError("--dask needs dask.distributed (pip install 'lipauth[cluster]')") from exc
    from lipauth.corpora.preprocess import process_item

    cluster = None
    if address.startswith("local:"):
        n = address.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise InvalidInputError(f"--dask local:N needs a number of workers, got {address!r}")
        # one thread per worker: dlib and the pipeline are not made to share a process
        cluster = LocalCluster(n_workers=int(n), threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        client = Client(cluster or address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except OSError as exc:
        if cluster is not None:
            cluster.close()
        raise InvalidInputError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        futures = client.map(process_item, todo, out=out, corpus=corpus, config=config, pure=False)
        try:
            for fut in as_completed(futures):
                yield fut.result()
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
