"""One-to-many search at scale (issue #16, item 3): the nearest-template index identify uses
(lipauth.scoring.nearest: exact below 50,000 users, a FAISS inverted file above), on synthetic
templates, beside exact search (a matrix product) in the same run; --hnsw adds FAISS's HNSW
graph (M 32, efConstruction 80, efSearch 128), the alternative it was chosen over.

    python benchmarks/identify_scale.py [--sizes 1000 10000 100000 1000000] [--dim 192] [--queries 300]

Templates are random unit vectors of the bundled lip model's size (192): the hardest case
for a graph, with no cluster structure to follow. Two kinds of query, as identify sees them:
"enrolled" (a template plus noise, cosine about 0.8 to it: a returning user) and "unknown"
(a fresh random vector: someone not enrolled, whose nearest template is barely nearer than
the rest). recall@1: the index's nearest user is exact search's nearest. An unknown person's nearest
templates all lie far below any decision threshold, so which of them the graph returns does
not change the decision ("no match"); "best unknown cosine" shows how far below. Latencies are per
query, one at a time (as a service answers them), p50 and p99. Memory: the vectors and the
graph's links as the index holds them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lipauth.scoring.nearest import NearestTemplates


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--queries", type=int, default=300, help="of each kind")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hnsw", action="store_true", help="also time an HNSW graph (slow to build: ~11 min at 10^6)")
    args = ap.parse_args()
    print("| users | search | build (s) | memory (MB) | p50 (ms) | p99 (ms) | recall@1 enrolled | recall@1 unknown | best unknown cosine |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        rng = np.random.default_rng(args.seed)
        templates = np.empty((n, args.dim), np.float32)
        for s in range(0, n, 100_000):  # in blocks: 10^6 x 192 float64 draws would take 1.5 GB
            templates[s : s + 100_000] = unit(rng.standard_normal((min(100_000, n - s), args.dim)))
        users = [f"u{i}" for i in range(n)]
        who = rng.choice(n, args.queries, replace=False)
        enrolled = unit(templates[who] + 0.045 * rng.standard_normal((args.queries, args.dim)).astype(np.float32))
        unknown = unit(rng.standard_normal((args.queries, args.dim)))
        queries = {"enrolled": enrolled, "unknown": unknown}

        exact_top, exact_times, best_unknown = {}, [], 0.0
        for kind, q in queries.items():
            tops = []
            for v in q:
                t = time.perf_counter()
                scores = templates @ v
                tops.append(int(np.argmax(scores)))
                exact_times.append(time.perf_counter() - t)
                if kind == "unknown":
                    best_unknown = max(best_unknown, float(scores[tops[-1]]))
            exact_top[kind] = tops
        print(f"| {n:,} | exact (matrix product) | 0 | {templates.nbytes / 2**20:.0f} | {1e3 * np.median(exact_times):.2f} | {1e3 * np.percentile(exact_times, 99):.2f} | 1 | 1 | {best_unknown:.2f} |", flush=True)

        index = NearestTemplates(args.dim, exact_below=0)  # the inverted file at every size, to compare
        t = time.perf_counter()
        index.upsert_many(users, templates, [None] * n)
        build = time.perf_counter() - t
        name = f"inverted file (FAISS, {index._ivf.nlist} lists, {index._ivf.nprobe} probed)"
        row(n, name, build, index.memory_bytes(), lambda v: index.search(v, 1)[0][0], queries, exact_top, users)
        index = None  # its memory back before the next size
        if args.hnsw:
            import faiss

            graph = faiss.IndexHNSWFlat(args.dim, 32, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = 80
            t = time.perf_counter()
            graph.add(templates)
            build = time.perf_counter() - t
            graph.hnsw.efSearch = 128
            memory = templates.nbytes + n * 32 * 2 * 4
            row(n, "HNSW graph (FAISS, M 32, ef 128)", build, memory, lambda v: users[int(graph.search(v[None], 1)[1][0, 0])], queries, exact_top, users)
            del graph
        del templates


def row(n, name, build, memory, nearest, queries, exact_top, users) -> None:
    recall, times = {}, []
    for kind, q in queries.items():
        hits = 0
        for v, want in zip(q, exact_top[kind]):
            t = time.perf_counter()
            got = nearest(v)
            times.append(time.perf_counter() - t)
            hits += got == users[want]
        recall[kind] = hits / len(q)
    print(f"| {n:,} | {name} | {build:.1f} | {memory / 2**20:.0f} | {1e3 * np.median(times):.2f} | {1e3 * np.percentile(times, 99):.2f} | {recall['enrolled']:.3f} | {recall['unknown']:.3f} | |", flush=True)


if __name__ == "__main__":
    main()
