"""Maximum-weight interval packing under a capacity profile, as a min-cost flow.

The timeline is a chain of points; a unit of flow is a line. A unit may ride the chain
for free or take an interval's arc and collect its weight; at most `capacity[k]` units
exist over segment k, so at most that many chosen intervals overlap there. Units enter
where the profile rises and leave where it falls, which is exactly how lines come back
and go down. Every arc points forward in time, so the first potentials come from one
pass over the DAG; after that, primal-dual rounds: Dijkstra on reduced costs, then a
blocking flow (Dinic) on the zero-reduced-cost arcs. Parallel intervals with the same
ends and weight share one arc with their count as capacity, which is what keeps a
court's timetable (starts on the quarter hour, a few priority levels) small.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Phase:
    """`units` more lines used, each adding `gain` weight (gains never increase)."""

    units: int
    gain: int


class _Network:
    __slots__ = ("adj", "cap", "cost", "head")

    def __init__(self, nodes: int) -> None:
        self.head: list[int] = []
        self.cap: list[int] = []
        self.cost: list[int] = []
        self.adj: list[list[int]] = [[] for _ in range(nodes)]

    def add(self, tail: int, head: int, cap: int, cost: int) -> int:
        arc = len(self.head)
        self.head += (head, tail)
        self.cap += (cap, 0)
        self.cost += (cost, -cost)
        self.adj[tail].append(arc)
        self.adj[head].append(arc ^ 1)
        return arc


@dataclass(frozen=True, slots=True)
class Packing:
    """`taken` per group; `phases` (for a capacity curve when the profile is flat);
    `penalty` per group: by how much any packing's weight falls short of the optimum for
    each member it takes beyond `taken` (or leaves out below it). These are the reduced
    costs of the optimal dual; they add up over groups, so a search that must beat a
    known packing by less than G may fix every group whose penalty is at least G."""

    taken: list[int]
    phases: list[Phase]
    penalty: list[int]


def pack(
    points: int,
    capacity: Sequence[int],
    intervals: Sequence[tuple[int, int, int, int]],
) -> Packing:
    """Choose how many of each interval group to take.

    `points` timeline points 0..points-1; `capacity[k]` units over segment [k, k+1);
    `intervals` are (first point, last point, count, weight > 0).
    """
    source, sink = points, points + 1
    net = _Network(points + 2)
    previous = 0
    for k in range(points):
        here = capacity[k] if k < points - 1 else 0
        if here > previous:
            net.add(source, k, here - previous, 0)
        elif here < previous:
            net.add(k, sink, previous - here, 0)
        if k < points - 1 and here > 0:
            net.add(k, k + 1, here, 0)
        previous = here
    group_arcs = [net.add(a, b, count, -weight) for a, b, count, weight in intervals]

    potential = _dag_potentials(net, points, source, sink)
    phases: list[Phase] = []
    head, cap, cost, adj = net.head, net.cap, net.cost, net.adj
    nodes = points + 2
    inf = float("inf")
    while True:
        dist: list[float] = [inf] * nodes
        dist[source] = 0
        heap: list[tuple[float, int]] = [(0, source)]
        while heap:
            d, u = heapq.heappop(heap)
            if d > dist[u]:
                continue
            pu = potential[u]
            for arc in adj[u]:
                if cap[arc]:
                    v = head[arc]
                    nd = d + cost[arc] + pu - potential[v]
                    if nd < dist[v]:
                        dist[v] = nd
                        heapq.heappush(heap, (nd, v))
        if dist[sink] == inf:
            break
        reach = max(x for x in dist if x != inf)
        for v in range(nodes):
            dv = dist[v]
            potential[v] += int(dv) if dv != inf else int(reach)
        pushed = _blocking_flow(net, potential, source, sink)
        # Reduced cost 0 on every arc of the path: its true cost is potential[sink] - 0.
        phases.append(Phase(units=pushed, gain=-(potential[sink] - potential[source])))
    taken = [intervals[i][2] - cap[arc] for i, arc in enumerate(group_arcs)]
    penalty = [
        abs(cost[arc] + potential[a] - potential[b])
        for arc, (a, b, _, _) in zip(group_arcs, intervals, strict=True)
    ]
    return Packing(taken, phases, penalty)


def _dag_potentials(net: _Network, points: int, source: int, sink: int) -> list[int]:
    """Shortest distances from the source in the initial (acyclic) network."""
    big = 0
    for c in net.cost:
        big += abs(c)
    unreached = big + 1
    dist = [unreached] * (points + 2)
    dist[source] = 0
    order = [source, *range(points), sink]
    head, cap, cost = net.head, net.cap, net.cost
    for u in order:
        du = dist[u]
        if du == unreached:
            continue
        for arc in net.adj[u]:
            if cap[arc]:
                v = head[arc]
                if du + cost[arc] < dist[v]:
                    dist[v] = du + cost[arc]
    return dist


def _blocking_flow(net: _Network, potential: list[int], source: int, sink: int) -> int:
    """Dinic on the admissible arcs (residual capacity, reduced cost zero)."""
    head, cap, cost, adj = net.head, net.cap, net.cost, net.adj
    nodes = len(adj)
    total = 0
    while True:
        level = [-1] * nodes
        level[source] = 0
        queue = [source]
        admissible: list[list[int]] = [[] for _ in range(nodes)]
        for u in queue:
            pu = potential[u]
            next_level = level[u] + 1
            out = admissible[u]
            for arc in adj[u]:
                if cap[arc]:
                    v = head[arc]
                    if cost[arc] + pu - potential[v] == 0:
                        if level[v] < 0:
                            level[v] = next_level
                            queue.append(v)
                        if level[v] == next_level:
                            out.append(arc)
        if level[sink] < 0:
            return total
        total += _push_all(head, cap, admissible, source, sink)


def _push_all(
    head: list[int], cap: list[int], admissible: list[list[int]], source: int, sink: int
) -> int:
    """Augment along level-graph paths until none is left (iterative DFS)."""
    pointer = [0] * len(admissible)
    dead = [False] * len(admissible)
    total = 0
    path: list[int] = []
    u = source
    while True:
        if u == sink:
            bottleneck = min(cap[a] for a in path)
            for a in path:
                cap[a] -= bottleneck
                cap[a ^ 1] += bottleneck
            total += bottleneck
            path.clear()
            u = source
            continue
        arcs = admissible[u]
        k = pointer[u]
        while k < len(arcs) and (not cap[arcs[k]] or dead[head[arcs[k]]]):
            k += 1
        pointer[u] = k
        if k < len(arcs):
            arc = arcs[k]
            path.append(arc)
            u = head[arc]
            continue
        if u == source:
            return total
        dead[u] = True
        arc = path.pop()
        u = head[arc ^ 1]
