"""Maximum-weight interval packing under a capacity profile, as a min-cost flow.

The timeline is a chain of points; a unit of flow is a line. A unit may ride the chain
for free or take an interval's arc and collect its weight; at most `capacity[k]` units
exist over segment k, so at most that many chosen intervals overlap there. Units enter
where the profile rises and leave where it falls, which is exactly how lines come back
and go down. Every arc points forward in time, so the first potentials come from one
pass over the DAG; after that, successive shortest paths: Dijkstra on reduced costs,
stopped at the sink, then one augmentation along the path found. (A court's tiered
weights make equal-cost paths rare, so a blocking flow per round only added two
breadth-first passes per line.) Parallel intervals with the same
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
    each member it takes beyond `taken` (or leaves out below it); `price` per segment:
    by how much it falls short for each usable line it leaves idle there. These are the
    reduced costs of the optimal dual; they add up over groups and segments, so a search
    that must beat a known packing by less than G may fix every group whose penalty is
    at least G and drop every partial plan whose idle lines already cost G."""

    taken: list[int]
    phases: list[Phase]
    penalty: list[int]
    price: list[int]


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
    far = 1 << 126
    heappush, heappop = heapq.heappush, heapq.heappop
    while True:
        # Dijkstra on reduced costs, stopped once the sink is settled: every node not
        # settled by then is at least that far, which keeps reduced costs non-negative.
        dist = [far] * nodes
        via = [-1] * nodes
        dist[source] = 0
        heap: list[tuple[int, int]] = [(0, source)]
        while heap:
            d, u = heappop(heap)
            if d > dist[u]:
                continue
            if u == sink:
                break
            pu = potential[u]
            for arc in adj[u]:
                if cap[arc]:
                    v = head[arc]
                    nd = d + cost[arc] + pu - potential[v]
                    if nd < dist[v]:
                        dist[v] = nd
                        via[v] = arc
                        heappush(heap, (nd, v))
        reach = dist[sink]
        if reach == far:
            break
        for v in range(nodes):
            dv = dist[v]
            potential[v] += dv if dv < reach else reach
        path = []
        v = sink
        while v != source:
            arc = via[v]
            path.append(arc)
            v = head[arc ^ 1]
        bottleneck = min(cap[a] for a in path)
        for a in path:
            cap[a] -= bottleneck
            cap[a ^ 1] += bottleneck
        # Reduced cost 0 on every arc of the path: its true cost is the potentials' rise.
        gain = -(potential[sink] - potential[source])
        if phases and phases[-1].gain == gain:
            phases[-1] = Phase(phases[-1].units + bottleneck, gain)
        else:
            phases.append(Phase(bottleneck, gain))
    taken = [intervals[i][2] - cap[arc] for i, arc in enumerate(group_arcs)]
    penalty = [
        abs(cost[arc] + potential[a] - potential[b])
        for arc, (a, b, _, _) in zip(group_arcs, intervals, strict=True)
    ]
    # The chain arc over segment k carries the idle lines; where its reduced cost is
    # positive the optimum leaves none idle, and each idle one costs exactly that.
    price = [max(0, potential[k] - potential[k + 1]) for k in range(points - 1)]
    return Packing(taken, phases, penalty, price)


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
