"""Branching trees (pulmonary arteries, veins, bronchi) grown to fill a lung.

A vectorised recursive bisection of points sampled inside the lung: every node owns a set of
territory points, is split along its widest axis, and grows a segment towards each half's
centroid. Radii follow Murray's law from the territory size (r^3 proportional to the
territory), so vessels taper and thin peripheral branches reach the pleura.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Tree:
    """Segments of a tree: ``starts``/``ends`` (n, 3) LPS mm, ``radii`` (n,) mm,
    ``generation`` (n,) and ``territory`` (n,) point counts."""

    starts: np.ndarray
    ends: np.ndarray
    radii: np.ndarray
    generation: np.ndarray
    territory: np.ndarray

    def select(self, keep: np.ndarray) -> Tree:
        return Tree(
            self.starts[keep],
            self.ends[keep],
            self.radii[keep],
            self.generation[keep],
            self.territory[keep],
        )

    @property
    def directions(self) -> np.ndarray:
        d = self.ends - self.starts
        return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)


def grow_tree(
    rng: np.random.Generator,
    root: np.ndarray,
    points: np.ndarray,
    root_radius: float,
    reach: float = 0.55,
) -> Tree:
    """Grow a tree from ``root`` filling ``points`` (m, 3); returns all its segments."""
    pts = np.asarray(points, dtype=np.float64)
    m = len(pts)
    order = np.arange(m)
    # Each node is a contiguous range [lo, hi) of ``order``; start with the whole set.
    lo, hi = np.array([0]), np.array([m])
    start = np.asarray(root, dtype=np.float64)[None, :]
    starts, ends, radii, gens, terr = [], [], [], [], []
    gen = 0
    while len(lo):
        sizes = hi - lo
        seg_id = np.repeat(np.arange(len(lo)), sizes)
        first = np.cumsum(sizes) - sizes
        pos = lo[seg_id] + np.arange(seg_id.size) - first[seg_id]
        p = pts[order[pos]]
        counts = sizes[:, None].astype(float)
        centroid = np.zeros((len(lo), 3))
        np.add.at(centroid, seg_id, p)
        centroid /= counts
        leaf = sizes <= 1
        jitter = rng.uniform(0.8, 1.2, size=len(lo))[:, None]
        frac = np.where(leaf[:, None], 1.0, np.clip(reach * jitter, 0.2, 0.9))
        end = start + (centroid - start) * frac
        r = root_radius * (sizes / m) ** (1.0 / 3.0)
        starts.append(start)
        ends.append(end)
        radii.append(r)
        gens.append(np.full(len(lo), gen))
        terr.append(sizes)
        # Split the non-leaf nodes along their widest axis at the median.
        inner = np.flatnonzero(~leaf)
        if not len(inner):
            break
        var = np.zeros((len(lo), 3))
        np.add.at(var, seg_id, (p - centroid[seg_id]) ** 2)
        axis = np.argmax(var + rng.uniform(0, 1e-3, var.shape), axis=1)
        key = p[np.arange(len(p)), axis[seg_id]]
        order[pos] = order[pos][np.lexsort((key, seg_id))]
        mid = lo + sizes // 2
        lo = np.concatenate([lo[inner], mid[inner]])
        hi = np.concatenate([mid[inner], hi[inner]])
        start = np.concatenate([end[inner], end[inner]])
        srt = np.argsort(lo, kind="stable")
        lo, hi, start = lo[srt], hi[srt], start[srt]
        gen += 1
    return Tree(
        np.concatenate(starts),
        np.concatenate(ends),
        np.concatenate(radii),
        np.concatenate(gens),
        np.concatenate(terr),
    )


def offset_tree(tree: Tree, distance: np.ndarray, rng: np.random.Generator) -> Tree:
    """A companion tree shifted sideways from ``tree`` by ``distance`` (mm per segment):
    bronchi run beside their pulmonary arteries."""
    d = tree.directions
    ref = np.where(np.abs(d[:, 2:3]) > 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 0, 1.0]]))
    side = np.cross(d, ref)
    side /= np.maximum(np.linalg.norm(side, axis=1, keepdims=True), 1e-6)
    if rng.random() < 0.5:
        side = -side
    shift = side * np.asarray(distance)[:, None]
    return Tree(
        tree.starts + shift,
        tree.ends + shift,
        tree.radii.copy(),
        tree.generation.copy(),
        tree.territory.copy(),
    )
