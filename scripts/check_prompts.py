#!/usr/bin/env python3
"""Checks the coding prompt set (prompts/coding/*.toml) used by
experiments/coding.toml.

For every prompt it checks the shape llmbench accepts (keys, ids, check
kinds and their keys, timeouts, regexes that Rust's regex crate compiles),
then proves the checks themselves:

* a prompt with a `python` check must pass every check with the reference
  solution below (sent as a ```python reply), and must fail with a stub
  (`def name(*a, **k): return None` for each name the solution defines) and
  with each plausible wrong solution listed in MUTANTS, so the tests can
  fail and catch the usual mistakes;
* a prompt without one is run on each good reply in REPLIES (every check
  must pass, so valid variants are accepted) and on each reply in
  BAD_REPLIES (at least one check must fail).

Checks are evaluated here the way llmbench does (src/quality): the code is
the reply's first python block (else its first fenced block, else the whole
reply), the dedented tests are appended, and the file is run as
`python3 -I main.py` in a fresh temporary directory with a timeout; a shell
check runs `sh -c COMMAND` with the reply on stdin. This script does not
sandbox anything beyond that: it only runs the code written in this file.

Also checked: ids unique across files, every prompt has a check, at least
MIN_PYTHON_PROMPTS prompts have a python check, max_tokens is set within
TOKEN_RANGE and every good reply fits in it (estimated at 3 characters a
token, which overestimates code), and every table entry names a real prompt.

Usage: scripts/check_prompts.py [-v] [PROMPT_FILE ...]   (default prompts/coding/*.toml)
       -v prints why each wrong answer failed.
Exit status 0 when everything holds, 1 otherwise.
"""

from __future__ import annotations

import ast
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GLOB = "prompts/coding/*.toml"
MIN_PYTHON_PROMPTS = 20
TOKEN_RANGE = (300, 700)
CHARS_PER_TOKEN = 3.0

# ---------------------------------------------------------------------------
# Reference solutions: prompt id -> Python source that implements the text.
# ---------------------------------------------------------------------------

SOLUTIONS: dict[str, str] = {}

SOLUTIONS["py-slugify"] = r'''
import re

def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
'''

SOLUTIONS["py-merge-intervals"] = r'''
def merge_intervals(intervals):
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
'''

SOLUTIONS["py-parse-duration"] = r'''
import re

_PATTERN = re.compile(r"(?:([0-9]+)h)?(?:([0-9]+)m(?!s))?(?:([0-9]+)s)?(?:([0-9]+)ms)?")

def parse_duration(text: str) -> float:
    match = _PATTERN.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"not a duration: {text!r}")
    h, m, s, ms = (int(g) if g else 0 for g in match.groups())
    return float(h * 3600 + m * 60 + s) + ms / 1000
'''

SOLUTIONS["py-lru-cache"] = r'''
from collections import OrderedDict

class LRUCache:
    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.data = OrderedDict()

    def get(self, key):
        if key not in self.data:
            return None
        self.data.move_to_end(key)
        return self.data[key]

    def put(self, key, value):
        if key in self.data:
            self.data.move_to_end(key)
        elif len(self.data) >= self.capacity:
            self.data.popitem(last=False)
        self.data[key] = value
'''

SOLUTIONS["py-csv-totals"] = r'''
import csv
import io

def totals_by_category(csv_text: str) -> dict[str, float]:
    rows = [row for row in csv.reader(io.StringIO(csv_text)) if row]
    if not rows:
        raise ValueError("no header row")
    header = rows[0]
    if "category" not in header or "amount" not in header:
        raise ValueError("the header needs category and amount columns")
    cat, amt = header.index("category"), header.index("amount")
    totals: dict[str, float] = {}
    for row in rows[1:]:
        amount = row[amt].strip()
        if amount:
            totals[row[cat]] = totals.get(row[cat], 0.0) + float(amount)
    return totals
'''

SOLUTIONS["py-wrap-text"] = r'''
def wrap_text(text: str, width: int) -> list[str]:
    if width < 1:
        raise ValueError("width must be at least 1")
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            if line:
                lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines
'''

SOLUTIONS["py-human-size"] = r'''
def human_size(n: int) -> str:
    if n < 0:
        raise ValueError("negative size")
    if n < 1024:
        return f"{n} B"
    for power, unit in ((4, "TiB"), (3, "GiB"), (2, "MiB"), (1, "KiB")):
        if n >= 1024 ** power:
            return f"{n / 1024 ** power:.1f} {unit}"
'''

SOLUTIONS["py-business-days"] = r'''
import datetime

def add_business_days(start: datetime.date, n: int) -> datetime.date:
    step = datetime.timedelta(days=1 if n > 0 else -1)
    day, left = start, abs(n)
    while left:
        day += step
        if day.weekday() < 5:
            left -= 1
    return day
'''

SOLUTIONS["py-flatten-dict"] = r'''
def flatten_dict(data: dict, sep: str = ".") -> dict:
    out: dict = {}
    stack = [("", data)]
    while stack:
        prefix, node = stack.pop()
        for key, value in node.items():
            name = prefix + sep + key if prefix else key
            if isinstance(value, dict):
                stack.append((name, value))
            elif name in out:
                raise ValueError(f"duplicate key {name!r}")
            else:
                out[name] = value
    return out
'''

SOLUTIONS["py-is-ipv4"] = r'''
def is_ipv4(address: str) -> bool:
    fields = address.split(".")
    if len(fields) != 4:
        return False
    for f in fields:
        if not (1 <= len(f) <= 3) or any(c not in "0123456789" for c in f):
            return False
        if (len(f) > 1 and f[0] == "0") or int(f) > 255:
            return False
    return True
'''

SOLUTIONS["py-compare-versions"] = r'''
def compare_versions(a: str, b: str) -> int:
    def parse(v):
        parts = v.split(".")
        if not all(p and all(c in "0123456789" for c in p) for p in parts):
            raise ValueError(f"bad version {v!r}")
        return [int(p) for p in parts]
    x, y = parse(a), parse(b)
    size = max(len(x), len(y))
    x += [0] * (size - len(x))
    y += [0] * (size - len(y))
    return (x > y) - (x < y)
'''

SOLUTIONS["py-format-table"] = r'''
def format_table(header: list[str], rows: list[list[str]]) -> str:
    if not header or any(len(r) != len(header) for r in rows):
        raise ValueError("ragged table")
    widths = [max(len(c) for c in col) for col in zip(header, *rows)]
    def line(cells):
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths))
    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(header), rule] + [line(r) for r in rows])
'''

SOLUTIONS["py-number-words"] = r'''
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()

def _below_thousand(n):
    words = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else ""))
    elif n:
        words.append(_ONES[n])
    return words

def number_to_words(n: int) -> str:
    if not 0 <= n <= 999999:
        raise ValueError("out of range")
    if n == 0:
        return "zero"
    words = []
    if n >= 1000:
        words += _below_thousand(n // 1000) + ["thousand"]
    words += _below_thousand(n % 1000)
    return " ".join(words)
'''

SOLUTIONS["py-top-words"] = r'''
import re
from collections import Counter

def top_words(text: str, k: int) -> list[str]:
    if k < 0:
        raise ValueError("k must not be negative")
    counts = Counter(w.lower() for w in re.findall(r"[A-Za-z]+", text))
    return sorted(counts, key=lambda w: (-counts[w], w))[:k]
'''

SOLUTIONS["algo-binary-search"] = r'''
def lower_bound(values: list[int], target: int) -> int:
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo
'''

SOLUTIONS["algo-topo-sort"] = r'''
from collections import deque

def topo_sort(edges: dict[str, list[str]]) -> list[str]:
    indegree: dict[str, int] = {}
    for node, targets in edges.items():
        indegree.setdefault(node, 0)
        for t in targets:
            indegree[t] = indegree.get(t, 0) + 1
    ready = deque(n for n, d in indegree.items() if d == 0)
    order = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for t in edges.get(node, []):
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    if len(order) != len(indegree):
        raise ValueError("the graph has a cycle")
    return order
'''

SOLUTIONS["algo-edit-distance"] = r'''
def edit_distance(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
'''

SOLUTIONS["algo-roman"] = r'''
def to_roman(n: int) -> str:
    if not 1 <= n <= 3999:
        raise ValueError("out of range")
    out = []
    for value, symbol in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"),
                          (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"),
                          (5, "V"), (4, "IV"), (1, "I")):
        count, n = divmod(n, value)
        out.append(symbol * count)
    return "".join(out)
'''

SOLUTIONS["algo-coin-change"] = r'''
def min_coins(amount: int, coins: list[int]) -> int:
    if amount < 0 or any(c < 1 for c in coins):
        raise ValueError("bad amount or coin")
    best = [0] + [-1] * amount
    for total in range(1, amount + 1):
        options = [best[total - c] for c in set(coins) if c <= total and best[total - c] >= 0]
        if options:
            best[total] = min(options) + 1
    return best[amount]
'''

SOLUTIONS["algo-dijkstra"] = r'''
import heapq

def shortest_path(graph, start, goal):
    if any(w < 0 for edges in graph.values() for w in edges.values()):
        raise ValueError("negative edge weight")
    dist = {start: 0}
    prev = {}
    heap = [(0, start)]
    while heap:
        d, node = heapq.heappop(heap)
        if node == goal:
            path = [node]
            while path[-1] != start:
                path.append(prev[path[-1]])
            return d, path[::-1]
        if d > dist[node]:
            continue
        for nxt, w in graph.get(node, {}).items():
            if d + w < dist.get(nxt, float("inf")):
                dist[nxt] = d + w
                prev[nxt] = node
                heapq.heappush(heap, (d + w, nxt))
    return None
'''

SOLUTIONS["algo-life-step"] = r'''
from collections import Counter

def life_step(live: set[tuple[int, int]]) -> set[tuple[int, int]]:
    counts = Counter((x + dx, y + dy) for x, y in live
                     for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy)
    return {cell for cell, n in counts.items() if n == 3 or (n == 2 and cell in live)}
'''

SOLUTIONS["algo-eval-expr"] = r'''
import re

_TOKEN = re.compile(r"\s*(?:([0-9]+(?:\.[0-9]+)?)|([-+*/()]))")

def evaluate(expr: str) -> float:
    tokens, pos = [], 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"unexpected character at {pos}")
        tokens.append(float(m.group(1)) if m.group(1) else m.group(2))
        pos = m.end()
    tokens.append(None)
    i = 0

    def peek():
        return tokens[i]

    def take():
        nonlocal i
        i += 1
        return tokens[i - 1]

    def sum_():
        value = product()
        while peek() in ("+", "-"):
            value = value + product() if take() == "+" else value - product()
        return value

    def product():
        value = unary()
        while peek() in ("*", "/"):
            value = value * unary() if take() == "*" else value / unary()
        return value

    def unary():
        if peek() == "-":
            take()
            return -unary()
        token = take()
        if isinstance(token, float):
            return token
        if token == "(":
            value = sum_()
            if take() != ")":
                raise ValueError("missing )")
            return value
        raise ValueError(f"unexpected {token!r}")

    result = sum_()
    if peek() is not None:
        raise ValueError(f"unexpected {peek()!r}")
    return float(result)
'''

# ---------------------------------------------------------------------------
# Other correct solutions, in the styles models write (libraries, recursion,
# other algorithms): prompt id -> [(approach, source)]. Each must pass, so the
# tests accept any correct implementation of the text, not just the reference.
# ---------------------------------------------------------------------------

ALTERNATIVES: dict[str, list[tuple[str, str]]] = {
    "py-slugify": [("character loop", r"""
def slugify(title: str) -> str:
    out = []
    for ch in title.lower():
        if ch in "abcdefghijklmnopqrstuvwxyz0123456789":
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")
""")],
    "py-merge-intervals": [("index loop on a sorted copy", r"""
def merge_intervals(intervals):
    items = sorted(intervals, key=lambda iv: iv[0])
    result = []
    i = 0
    while i < len(items):
        start, end = items[i]
        j = i + 1
        while j < len(items) and items[j][0] <= end:
            end = max(end, items[j][1])
            j += 1
        result.append((start, end))
        i = j
    return result
""")],
    "py-parse-duration": [("hand-written scanner", r"""
def parse_duration(text: str) -> float:
    order = ["h", "m", "s", "ms"]
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    total, i, last = 0.0, 0, -1
    if not text:
        raise ValueError("empty")
    while i < len(text):
        j = i
        while j < len(text) and "0" <= text[j] <= "9":
            j += 1
        if j == i:
            raise ValueError(text)
        unit = "ms" if text.startswith("ms", j) else text[j:j + 1]
        if unit not in scale or order.index(unit) <= last:
            raise ValueError(text)
        last = order.index(unit)
        total += int(text[i:j]) * scale[unit]
        i = j + len(unit)
    return float(total)
""")],
    "py-lru-cache": [("plain dict, re-inserted on use", r"""
class LRUCache:
    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError("capacity")
        self.capacity = capacity
        self.items = {}

    def get(self, key):
        if key not in self.items:
            return None
        value = self.items.pop(key)
        self.items[key] = value
        return value

    def put(self, key, value):
        if key in self.items:
            del self.items[key]
        elif len(self.items) == self.capacity:
            del self.items[next(iter(self.items))]
        self.items[key] = value
""")],
    "py-csv-totals": [("csv.DictReader", r"""
import csv, io
from collections import defaultdict

def totals_by_category(csv_text):
    reader = csv.DictReader(io.StringIO(csv_text))
    if not reader.fieldnames or not {"category", "amount"} <= set(reader.fieldnames):
        raise ValueError("missing columns")
    totals = defaultdict(float)
    for row in reader:
        if row["amount"] and row["amount"].strip():
            totals[row["category"]] += float(row["amount"])
    return dict(totals)
""")],
    "py-wrap-text": [("textwrap without breaking words", r"""
import textwrap

def wrap_text(text, width):
    if width < 1:
        raise ValueError("width")
    return textwrap.wrap(" ".join(text.split()), width, break_long_words=False,
                         break_on_hyphens=False)
""")],
    "py-human-size": [("divide in a loop", r"""
def human_size(n):
    if n < 0:
        raise ValueError("negative")
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ["KiB", "MiB", "GiB"]:
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
""")],
    "py-business-days": [("numpy-free busday loop with date.isoweekday", r"""
from datetime import date, timedelta

def add_business_days(start: date, n: int) -> date:
    current = start
    remaining = n
    while remaining > 0:
        current += timedelta(days=1)
        if current.isoweekday() <= 5:
            remaining -= 1
    while remaining < 0:
        current -= timedelta(days=1)
        if current.isoweekday() <= 5:
            remaining += 1
    return current
""")],
    "py-flatten-dict": [("recursion", r"""
def flatten_dict(data, sep="."):
    result = {}
    def walk(node, prefix):
        for key, value in node.items():
            full = f"{prefix}{sep}{key}" if prefix else key
            if isinstance(value, dict):
                walk(value, full)
            else:
                if full in result:
                    raise ValueError(full)
                result[full] = value
    walk(data, "")
    return result
""")],
    "py-is-ipv4": [("regex", r"""
import re

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"

def is_ipv4(address):
    return re.fullmatch(r"\.".join([_OCTET] * 4), address, flags=re.ASCII) is not None
"""), ("ipaddress module", r"""
import ipaddress

def is_ipv4(address: str) -> bool:
    if not address.isascii() or address.strip() != address:
        return False
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return True
""")],
    "py-compare-versions": [("zip_longest", r"""
from itertools import zip_longest

def compare_versions(a, b):
    def parts(v):
        fields = v.split(".")
        for f in fields:
            if not f or not f.isascii() or not f.isdigit():
                raise ValueError(v)
        return [int(f) for f in fields]
    for x, y in zip_longest(parts(a), parts(b), fillvalue=0):
        if x != y:
            return 1 if x > y else -1
    return 0
""")],
    "py-format-table": [("format specs", r"""
def format_table(header, rows):
    if len(header) == 0:
        raise ValueError("empty header")
    for row in rows:
        if len(row) != len(header):
            raise ValueError("row length")
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = [" | ".join(f"{h:<{w}}" for h, w in zip(header, widths)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(f"{c:<{w}}" for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)
""")],
    "py-number-words": [("recursion", r"""
ONES = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

def number_to_words(n):
    if n < 0 or n > 999999:
        raise ValueError(n)
    if n == 0:
        return "zero"
    def words(x):
        if x < 20:
            return ONES[x]
        if x < 100:
            return TENS[x // 10] + ("-" + ONES[x % 10] if x % 10 else "")
        if x < 1000:
            return ONES[x // 100] + " hundred" + (" " + words(x % 100) if x % 100 else "")
        return words(x // 1000) + " thousand" + (" " + words(x % 1000) if x % 1000 else "")
    return words(n)
""")],
    "py-top-words": [("most_common after sorting by word", r"""
import re
from collections import Counter

def top_words(text, k):
    if k < 0:
        raise ValueError(k)
    words = sorted(m.lower() for m in re.findall(r"[a-zA-Z]+", text))
    return [w for w, _ in Counter(words).most_common(k)]
""")],
    "algo-binary-search": [("bisect", r"""
import bisect

def lower_bound(values, target):
    return bisect.bisect_left(values, target)
""")],
    "algo-topo-sort": [("iterative DFS with colours", r"""
def topo_sort(edges):
    nodes = list(dict.fromkeys([*edges, *(t for ts in edges.values() for t in ts)]))
    state = {n: 0 for n in nodes}
    order = []
    for root in nodes:
        if state[root]:
            continue
        stack = [(root, iter(edges.get(root, [])))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                if state[child] == 1:
                    raise ValueError("cycle")
                if state[child] == 0:
                    state[child] = 1
                    stack.append((child, iter(edges.get(child, []))))
                    break
            else:
                stack.pop()
                state[node] = 2
                order.append(node)
    return order[::-1]
""")],
    "algo-edit-distance": [("full matrix", r"""
def edit_distance(a, b):
    m, n = len(a), len(b)
    dp = [[0] * (n + 1) for _ in range(m + 1)]
    for i in range(m + 1):
        dp[i][0] = i
    for j in range(n + 1):
        dp[0][j] = j
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            dp[i][j] = min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + cost)
    return dp[m][n]
""")],
    "algo-roman": [("digit tables", r"""
def to_roman(n):
    if not isinstance(n, int) or n < 1 or n > 3999:
        raise ValueError("n must be in 1..3999")
    thousands = ["", "M", "MM", "MMM"]
    hundreds = ["", "C", "CC", "CCC", "CD", "D", "DC", "DCC", "DCCC", "CM"]
    tens = ["", "X", "XX", "XXX", "XL", "L", "LX", "LXX", "LXXX", "XC"]
    ones = ["", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX"]
    return thousands[n // 1000] + hundreds[n // 100 % 10] + tens[n // 10 % 10] + ones[n % 10]
""")],
    "algo-coin-change": [("memoised recursion", r"""
from functools import lru_cache

def min_coins(amount, coins):
    if amount < 0:
        raise ValueError("negative amount")
    if any(c < 1 for c in coins):
        raise ValueError("bad coin")
    values = sorted(set(coins))
    @lru_cache(maxsize=None)
    def best(a):
        if a == 0:
            return 0
        options = [best(a - c) for c in values if c <= a]
        options = [o for o in options if o >= 0]
        return min(options) + 1 if options else -1
    return best(amount)
""")],
    "algo-dijkstra": [("dist table and visited set", r"""
import heapq

def shortest_path(graph, start, goal):
    for u in graph:
        for v, w in graph[u].items():
            if w < 0:
                raise ValueError("negative weight")
    if start == goal:
        return (0, [start])
    queue = [(0, start, [start])]
    visited = set()
    while queue:
        cost, node, path = heapq.heappop(queue)
        if node in visited:
            continue
        visited.add(node)
        if node == goal:
            return (cost, path)
        for nxt, w in graph.get(node, {}).items():
            if nxt not in visited:
                heapq.heappush(queue, (cost + w, nxt, path + [nxt]))
    return None
""")],
    "algo-life-step": [("neighbour loops", r"""
def life_step(live):
    def neighbours(cell):
        x, y = cell
        return [(x + dx, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]
    candidates = set(live)
    for cell in live:
        candidates.update(neighbours(cell))
    new = set()
    for cell in candidates:
        n = sum(1 for nb in neighbours(cell) if nb in live)
        if n == 3 or (n == 2 and cell in live):
            new.add(cell)
    return new
""")],
    "algo-eval-expr": [("tokenizer and shunting-yard", r"""
import re

def evaluate(expr):
    tokens = []
    for number, other in re.findall(r"([0-9]+(?:\.[0-9]+)?)|(\S)", expr):
        if other and other not in "+-*/()":
            raise ValueError(f"bad character {other!r}")
        tokens.append(float(number) if number else other)
    prec = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3}
    out, ops = [], []
    def apply(op):
        if op == "neg":
            if not out:
                raise ValueError("missing operand")
            out.append(-out.pop())
            return
        if len(out) < 2:
            raise ValueError("missing operand")
        b, a = out.pop(), out.pop()
        out.append(a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a / b)
    expect_operand = True
    for t in tokens:
        if isinstance(t, float):
            if not expect_operand:
                raise ValueError("two numbers in a row")
            out.append(t)
            expect_operand = False
        elif t == "(":
            if not expect_operand:
                raise ValueError("unexpected (")
            ops.append(t)
        elif t == ")":
            if expect_operand:
                raise ValueError("unexpected )")
            while ops and ops[-1] != "(":
                apply(ops.pop())
            if not ops:
                raise ValueError("unbalanced")
            ops.pop()
        elif expect_operand:
            if t != "-":
                raise ValueError("missing operand")
            ops.append("neg")
        else:
            while ops and ops[-1] != "(" and prec[ops[-1]] >= prec[t]:
                apply(ops.pop())
            ops.append(t)
            expect_operand = True
    if expect_operand:
        raise ValueError("missing operand")
    while ops:
        op = ops.pop()
        if op == "(":
            raise ValueError("unbalanced")
        apply(op)
    if len(out) != 1:
        raise ValueError("malformed")
    return float(out[0])
""")],
}

# ---------------------------------------------------------------------------
# Plausible wrong solutions: prompt id -> [(what is wrong, source)]. Each must
# fail the prompt's checks (besides the generic stub every prompt gets).
# ---------------------------------------------------------------------------

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "py-slugify": [
        ("keeps Unicode letters (\\w)", r'''
import re
def slugify(title):
    return re.sub(r"[\W_]+", "-", title.lower()).strip("-")
'''),
        ("one hyphen per character", r'''
import re
def slugify(title):
    return re.sub(r"[^a-z0-9]", "-", title.lower()).strip("-")
'''),
    ],
    "py-merge-intervals": [
        ("touching intervals not merged", SOLUTIONS["py-merge-intervals"].replace("start <= merged", "start < merged")),
        ("contained interval shrinks the merge", SOLUTIONS["py-merge-intervals"].replace("max(merged[-1][1], end)", "end")),
        ("sorts the input in place", SOLUTIONS["py-merge-intervals"].replace(
            "for start, end in sorted(intervals):", "intervals.sort()\n    for start, end in intervals:")),
    ],
    "py-parse-duration": [
        ("findall without a full match", r'''
import re
def parse_duration(text):
    parts = re.findall(r"(\d+)(ms|h|m|s)", text)
    if not parts:
        raise ValueError(text)
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return float(sum(int(n) * scale[u] for n, u in parts))
'''),
        ("units in any order, repeated", r'''
import re
def parse_duration(text):
    if not re.fullmatch(r"(?:\d+(?:ms|h|m|s))+", text):
        raise ValueError(text)
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return float(sum(int(n) * scale[u] for n, u in re.findall(r"(\d+)(ms|h|m|s)", text)))
'''),
    ],
    "py-lru-cache": [
        ("get does not refresh recency", SOLUTIONS["py-lru-cache"].replace(
            "        self.data.move_to_end(key)\n        return self.data[key]", "        return self.data[key]")),
        ("evicts on replacement too", SOLUTIONS["py-lru-cache"].replace(
            "        if key in self.data:\n            self.data.move_to_end(key)\n        elif len",
            "        if key in self.data:\n            self.data.move_to_end(key)\n        if len")),
        ("no capacity check", SOLUTIONS["py-lru-cache"].replace(
            '        if capacity < 1:\n            raise ValueError("capacity must be at least 1")\n', "")),
    ],
    "py-csv-totals": [
        ("splits on commas (no quoting)", r'''
def totals_by_category(csv_text):
    lines = [l for l in csv_text.splitlines() if l.strip()]
    if not lines:
        raise ValueError("empty")
    header = lines[0].split(",")
    if "category" not in header or "amount" not in header:
        raise ValueError("columns")
    c, a = header.index("category"), header.index("amount")
    out = {}
    for line in lines[1:]:
        f = line.split(",")
        if f[a].strip():
            out[f[c]] = out.get(f[c], 0.0) + float(f[a])
    return out
'''),
        ("blank amounts count as zero", SOLUTIONS["py-csv-totals"].replace(
            "        if amount:\n            totals[row[cat]] = totals.get(row[cat], 0.0) + float(amount)",
            "        totals[row[cat]] = totals.get(row[cat], 0.0) + float(amount or 0)")),
    ],
    "py-wrap-text": [
        ("textwrap with its defaults", r'''
import textwrap
def wrap_text(text, width):
    if width < 1:
        raise ValueError(width)
    return textwrap.wrap(text, width)
'''),
        ("off by one at the width", SOLUTIONS["py-wrap-text"].replace("<= width", "< width")),
    ],
    "py-human-size": [
        ("decimal (1000) units", SOLUTIONS["py-human-size"].replace("1024 **", "1000 **")),
        ("rounds up to the next unit", r'''
def human_size(n):
    if n < 0:
        raise ValueError(n)
    size, units = float(n), ["B", "KiB", "MiB", "GiB", "TiB"]
    i = 0
    while size >= 1024 and i < 4:
        size /= 1024
        i += 1
    if i == 0:
        return f"{n} B"
    if round(size, 1) >= 1024 and i < 4:
        size, i = size / 1024, i + 1
    return f"{size:.1f} {units[i]}"
'''),
    ],
    "py-business-days": [
        ("weekday arithmetic that ignores a weekend start", r'''
import datetime
def add_business_days(start, n):
    weeks, rest = divmod(abs(n), 5)
    sign = 1 if n >= 0 else -1
    day = start + datetime.timedelta(days=sign * 7 * weeks)
    while rest:
        day += datetime.timedelta(days=sign)
        if day.weekday() < 5:
            rest -= 1
    return day
'''),
        ("n == 0 moves off a weekend", SOLUTIONS["py-business-days"].replace(
            "    return day\n", "    while day.weekday() >= 5:\n        day += datetime.timedelta(days=1)\n    return day\n")),
    ],
    "py-flatten-dict": [
        ("keeps empty dicts as values", SOLUTIONS["py-flatten-dict"].replace(
            "if isinstance(value, dict):", "if isinstance(value, dict) and value:")),
        ("silently overwrites collisions", SOLUTIONS["py-flatten-dict"].replace(
            "            elif name in out:\n                raise ValueError(f\"duplicate key {name!r}\")\n", "")),
    ],
    "py-is-ipv4": [
        ("isdigit and int (Unicode digits, raises)", r'''
def is_ipv4(address):
    parts = address.split(".")
    return len(parts) == 4 and all(p.isdigit() and 0 <= int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts)
'''),
        ("int() accepts whitespace and signs", r'''
def is_ipv4(address):
    parts = address.split(".")
    if len(parts) != 4:
        return False
    try:
        return all(0 <= int(p) <= 255 and not (len(p.strip()) > 1 and p.strip()[0] == "0") for p in parts)
    except ValueError:
        return False
'''),
    ],
    "py-compare-versions": [
        ("compares strings", r'''
def compare_versions(a, b):
    if not a or not b:
        raise ValueError("empty")
    return (a > b) - (a < b)
'''),
        ("int() accepts spaces and signs", r'''
def compare_versions(a, b):
    x = [int(p) for p in a.split(".")]
    y = [int(p) for p in b.split(".")]
    n = max(len(x), len(y))
    x += [0] * (n - len(x)); y += [0] * (n - len(y))
    return (x > y) - (x < y)
'''),
    ],
    "py-format-table": [
        ("strips trailing spaces", SOLUTIONS["py-format-table"].replace(
            'return " | ".join(c.ljust(w) for c, w in zip(cells, widths))',
            'return " | ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()')),
        ("ignores the header's width", SOLUTIONS["py-format-table"].replace(
            "for col in zip(header, *rows)]", "for col in zip(*rows)] if rows else [len(h) for h in header]")),
    ],
    "py-number-words": [
        ("British 'and'", SOLUTIONS["py-number-words"].replace(
            '        words += [_ONES[n // 100], "hundred"]\n        n %= 100',
            '        words += [_ONES[n // 100], "hundred"]\n        n %= 100\n        if n:\n            words.append("and")')),
        ("no hyphen", SOLUTIONS["py-number-words"].replace('("-" + _ONES', '(" " + _ONES')),
    ],
    "py-top-words": [
        ("\\w+ words (digits, Unicode)", SOLUTIONS["py-top-words"].replace('r"[A-Za-z]+"', r'r"\w+"')),
        ("Counter.most_common tie order", r'''
import re
from collections import Counter
def top_words(text, k):
    if k < 0:
        raise ValueError(k)
    return [w for w, _ in Counter(w.lower() for w in re.findall(r"[A-Za-z]+", text)).most_common(k)]
'''),
    ],
    "algo-binary-search": [
        ("linear scan", r'''
def lower_bound(values, target):
    for i, v in enumerate(values):
        if v >= target:
            return i
    return len(values)
'''),
        ("upper bound on duplicates", SOLUTIONS["algo-binary-search"].replace("values[mid] < target", "values[mid] <= target")),
    ],
    "algo-topo-sort": [
        ("recursive DFS", r'''
def topo_sort(edges):
    order, state = [], {}
    def visit(n):
        if state.get(n) == 1:
            raise ValueError("cycle")
        if state.get(n) == 2:
            return
        state[n] = 1
        for t in edges.get(n, []):
            visit(t)
        state[n] = 2
        order.append(n)
    for n in list(edges):
        visit(n)
    return order[::-1]
'''),
        ("forgets nodes that are only targets", SOLUTIONS["algo-topo-sort"].replace(
            "    if len(order) != len(indegree):", "    order = [n for n in order if n in edges]\n    if False:")),
        ("no cycle detection", SOLUTIONS["algo-topo-sort"].replace("if len(order) != len(indegree):", "if False:")),
    ],
    "algo-edit-distance": [
        ("counts transpositions as 1", r'''
def edit_distance(a, b):
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i-1][j] + 1, d[i][j-1] + 1, d[i-1][j-1] + (a[i-1] != b[j-1]))
            if i > 1 and j > 1 and a[i-1] == b[j-2] and a[i-2] == b[j-1]:
                d[i][j] = min(d[i][j], d[i-2][j-2] + 1)
    return d[len(a)][len(b)]
'''),
        ("case-insensitive", SOLUTIONS["algo-edit-distance"].replace("(ca != cb)", "(ca.lower() != cb.lower())")),
    ],
    "algo-roman": [
        ("additive only (IIII)", r'''
def to_roman(n):
    if not 1 <= n <= 3999:
        raise ValueError(n)
    out = ""
    for v, s in ((1000, "M"), (500, "D"), (100, "C"), (50, "L"), (10, "X"), (5, "V"), (1, "I")):
        q, n = divmod(n, v)
        out += s * q
    return out
'''),
        ("accepts 0 and 4000", SOLUTIONS["algo-roman"].replace("if not 1 <= n <= 3999:", "if n < 0:")),
    ],
    "algo-coin-change": [
        ("greedy", r'''
def min_coins(amount, coins):
    if amount < 0 or any(c < 1 for c in coins):
        raise ValueError(amount)
    count = 0
    for c in sorted(set(coins), reverse=True):
        q, amount = divmod(amount, c)
        count += q
    return count if amount == 0 else -1
'''),
        ("exhaustive recursion", r'''
def min_coins(amount, coins):
    if amount < 0 or any(c < 1 for c in coins):
        raise ValueError(amount)
    def go(a):
        if a == 0:
            return 0
        best = -1
        for c in coins:
            if c <= a:
                r = go(a - c)
                if r >= 0 and (best < 0 or r + 1 < best):
                    best = r + 1
        return best
    return go(amount)
'''),
    ],
    "algo-dijkstra": [
        ("fewest edges (BFS)", r'''
from collections import deque
def shortest_path(graph, start, goal):
    if any(w < 0 for e in graph.values() for w in e.values()):
        raise ValueError("negative")
    prev, queue = {start: None}, deque([start])
    while queue:
        n = queue.popleft()
        if n == goal:
            path = [n]
            while prev[path[-1]] is not None:
                path.append(prev[path[-1]])
            path.reverse()
            return sum(graph[u][v] for u, v in zip(path, path[1:])), path
        for m in graph.get(n, {}):
            if m not in prev:
                prev[m] = n
                queue.append(m)
    return None
'''),
        ("checks only reachable edges for negatives", SOLUTIONS["algo-dijkstra"].replace(
            '    if any(w < 0 for edges in graph.values() for w in edges.values()):\n        raise ValueError("negative edge weight")\n',
            "").replace("            if d + w < dist", "            if w < 0:\n                raise ValueError(w)\n            if d + w < dist")),
    ],
    "algo-life-step": [
        ("survival on 2 or 3 without the live check", SOLUTIONS["algo-life-step"].replace(
            "if n == 3 or (n == 2 and cell in live)", "if n in (2, 3)")),
        ("bounded grid from min to max", r'''
def life_step(live):
    if not live:
        return set()
    xs = [x for x, _ in live]; ys = [y for _, y in live]
    out = set()
    for x in range(min(xs), max(xs) + 1):
        for y in range(min(ys), max(ys) + 1):
            n = sum((x + dx, y + dy) in live for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy)
            if n == 3 or (n == 2 and (x, y) in live):
                out.add((x, y))
    return out
'''),
    ],
    "algo-eval-expr": [
        ("eval", r'''
def evaluate(expr):
    import re
    if not re.fullmatch(r"[0-9.+\-*/() ]+", expr):
        raise ValueError(expr)
    try:
        return float(eval(expr))
    except SyntaxError as e:
        raise ValueError(expr) from e
'''),
        ("right-associative", SOLUTIONS["algo-eval-expr"].replace(
            '            value = value + product() if take() == "+" else value - product()',
            '            value = value + sum_() if take() == "+" else value - sum_()')),
        ("drops spaces between numbers", SOLUTIONS["algo-eval-expr"].replace(
            "    expr = expr.rstrip()", '    expr = expr.replace(" ", "")')),
    ],
}

# ---------------------------------------------------------------------------
# Replies for prompts without a python check: a good one and bad ones.
# ---------------------------------------------------------------------------

REPLIES: dict[str, list[str]] = {
    "rust-word-count": ['''```rust
use std::collections::BTreeMap;

fn word_counts(text: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        *counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    counts
}
```''', '''```rust
pub fn word_counts(text: &str) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() {
            word.push(c);
        } else if !word.is_empty() {
            *counts.entry(word.to_lowercase()).or_default() += 1;
            word.clear();
        }
    }
    counts
}
```'''],
    "sql-top-customers": ['''```sql
SELECT c.name, SUM(o.total) AS total_spend
FROM customers c
JOIN orders o ON o.customer_id = c.id
WHERE o.created_at >= '2025-01-01' AND o.created_at < '2026-01-01'
GROUP BY c.id, c.name
ORDER BY total_spend DESC, c.name
LIMIT 5;
```''', '''```sql
select customers.name, sum(orders.total) as total_spend
from orders join customers on customers.id = orders.customer_id
where extract(year from orders.created_at) = 2025
group by customers.id, customers.name
order by sum(orders.total) desc, customers.name asc
fetch first 5 rows only;
```'''],
    "bash-rotate-logs": ['''```sh
#!/bin/sh
dir=$1
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "usage: $0 DIRECTORY" >&2
    exit 1
fi
find "$dir" -maxdepth 1 -type f -name '*.log' -mtime +7 -exec gzip {} \;
```''', '''Here is the script:

```sh
#!/bin/sh
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
for f in "$1"/*.log; do
  [ -f "$f" ] || continue
  if [ -n "$(find "$f" -mtime +7)" ]; then
    gzip "$f"
  fi
done
```'''],
    "review-off-by-one": [
        "The slice starts one index too early, so it returns n + 1 items. Start it at "
        "`len(items) - n` instead: `return items[len(items) - n:]`, which also handles n == 0.",
        "It is off by one: the `- 1` makes the slice include one extra element. Use "
        "`items[max(0, len(items) - n):]`; note that `items[-n:]` would return the whole "
        "list for n == 0.",
    ],
}

BAD_REPLIES: dict[str, list[tuple[str, str]]] = {
    "rust-word-count": [
        ("splits on whitespace, case-sensitive, with main", '''```rust
use std::collections::BTreeMap;
fn word_counts(text: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for w in text.split_whitespace() { *m.entry(w.to_string()).or_insert(0) += 1; }
    m
}
fn main() { println!("{:?}", word_counts("a b a")); }
```'''),
        ("Python instead of Rust", "```python\ndef word_counts(text):\n    return {}\n```"),
    ],
    "sql-top-customers": [
        ("no limit, no year", '''```sql
SELECT c.name, SUM(o.total) AS total_spend FROM customers c JOIN orders o ON o.customer_id = c.id
GROUP BY c.name ORDER BY total_spend DESC, c.name;
```'''),
        ("ascending, no tie break", '''```sql
SELECT c.name, SUM(o.total) AS total_spend FROM customers c JOIN orders o ON o.customer_id = c.id
WHERE extract(year FROM o.created_at) = 2025 GROUP BY c.name ORDER BY total_spend LIMIT 5;
```'''),
    ],
    "bash-rotate-logs": [
        ("no argument check: runs on the current directory", '''```sh
#!/bin/sh
find "${1:-.}" -maxdepth 1 -type f -name '*.log' -mtime +7 -exec gzip {} \\;
```'''),
        ("recurses into subdirectories", '''```sh
#!/bin/sh
[ -d "$1" ] || { echo "usage: $0 DIR" >&2; exit 1; }
find "$1" -type f -name '*.log' -mtime +7 -exec gzip {} \\;
```'''),
        ("gzips every file", '''```sh
#!/bin/sh
[ -d "$1" ] || { echo "usage: $0 DIR" >&2; exit 1; }
for f in "$1"/*; do [ -f "$f" ] && gzip "$f"; done
```'''),
        ("bash shebang, no script run", "```bash\n#!/bin/bash\necho gzip\n```"),
    ],
    "review-off-by-one": [
        ("wrong diagnosis", "The function is correct; it returns the last n items."),
        ("rambling", "The slice is off by one; use items[len(items) - n:]. " + "More words here. " * 40),
    ],
}

# ---------------------------------------------------------------------------
# Prompt file shape, mirroring src/experiment and src/quality.
# ---------------------------------------------------------------------------

PROMPT_KEYS = {"id", "text", "system", "checks", "max_tokens", "temperature", "top_p",
               "top_k", "seed", "stop", "think", "keep_alive"}
CHECK_KEYS = {
    "contains": ({"value"}, {"ignore_case"}),
    "not_contains": ({"value"}, {"ignore_case"}),
    "regex": ({"pattern"}, set()),
    "equals": ({"value"}, {"ignore_case"}),
    "json": (set(), {"schema"}),
    "max_words": ({"value"}, set()),
    "python": ({"tests"}, {"timeout", "language_block"}),
    "shell": ({"command"}, {"timeout"}),
}
ID_RE = re.compile(r"[A-Za-z0-9._-]+")
# Python-only regex syntax that Rust's regex crate rejects.
RUST_INCOMPATIBLE = re.compile(r"\(\?[=!]|\(\?<[=!]|\(\?P=|\\[1-9]|\(\?\(|[*+?}][+]")


@dataclass
class Prompt:
    id: str
    file: str
    text: str
    checks: list[dict]
    max_tokens: int | None
    raw: dict = field(repr=False)

    @property
    def kinds(self) -> list[str]:
        return [c.get("kind", "?") for c in self.checks]

    @property
    def has_python(self) -> bool:
        return "python" in self.kinds


def parse_timeout(text: str) -> float:
    m = re.fullmatch(r"\s*([0-9.]+)\s*(ns|us|µs|ms|s|m|h)\s*", text)
    if not m:
        raise ValueError(f"timeout {text!r} is not a number and a unit such as \"10s\"")
    scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    seconds = float(m.group(1)) * scale[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"timeout {text!r} is zero")
    return seconds


def load(paths: list[Path], problems: list[str]) -> list[Prompt]:
    prompts: list[Prompt] = []
    seen: dict[str, str] = {}
    for path in paths:
        rel = os.path.relpath(path, ROOT)
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            problems.append(f"{rel}: cannot read: {e}")
            continue
        extra = set(doc) - {"prompts"}
        if extra:
            problems.append(f"{rel}: unexpected top-level keys {sorted(extra)}")
        if not doc.get("prompts"):
            problems.append(f"{rel}: no [[prompts]]")
        for i, raw in enumerate(doc.get("prompts", [])):
            where = f"{rel}: prompts[{i}]"
            pid = raw.get("id")
            if not isinstance(pid, str) or not ID_RE.fullmatch(pid):
                problems.append(f"{where}: id {pid!r} is not [A-Za-z0-9._-]+")
                continue
            where = f"{rel}: {pid}"
            if pid in seen:
                problems.append(f"{where}: duplicate id (first in {seen[pid]})")
            seen[pid] = rel
            unknown = set(raw) - PROMPT_KEYS
            if unknown:
                problems.append(f"{where}: unknown keys {sorted(unknown)}")
            if not str(raw.get("text", "")).strip():
                problems.append(f"{where}: text is empty")
            if "system" in raw and not str(raw["system"]).strip():
                problems.append(f"{where}: system is empty")
            checks = raw.get("checks", [])
            if not checks:
                problems.append(f"{where}: no checks")
            for j, check in enumerate(checks):
                problems.extend(f"{where}: checks[{j}]: {p}" for p in check_shape(check))
            max_tokens = raw.get("max_tokens")
            lo, hi = TOKEN_RANGE
            if not isinstance(max_tokens, int) or not lo <= max_tokens <= hi:
                problems.append(f"{where}: max_tokens {max_tokens!r} is not set within {lo}..{hi}")
            prompts.append(Prompt(pid, rel, raw.get("text", ""), checks, max_tokens, raw))
    return prompts


def check_shape(check: dict) -> list[str]:
    kind = check.get("kind")
    if kind not in CHECK_KEYS:
        return [f"unknown kind {kind!r}"]
    required, optional = CHECK_KEYS[kind]
    found = set(check) - {"kind"}
    problems = [f"{kind}: missing {k!r}" for k in sorted(required - found)]
    problems += [f"{kind}: unknown key {k!r}" for k in sorted(found - required - optional)]
    if kind in ("contains", "not_contains", "equals") and not str(check.get("value", "")):
        problems.append(f"{kind}: value is empty")
    if kind == "max_words" and not (isinstance(check.get("value"), int) and check["value"] > 0):
        problems.append("max_words: value must be a positive integer")
    if kind == "regex":
        pattern = check.get("pattern", "")
        try:
            re.compile(pattern)
        except re.error as e:
            problems.append(f"regex: does not compile: {e}")
        if RUST_INCOMPATIBLE.search(pattern):
            problems.append("regex: uses look-around, backreferences or possessive quantifiers (Rust regex has none)")
    if kind in ("python", "shell"):
        body = check.get("tests" if kind == "python" else "command", "")
        if not str(body).strip():
            problems.append(f"{kind}: empty tests/command")
        try:
            parse_timeout(check.get("timeout", "10s"))
        except ValueError as e:
            problems.append(f"{kind}: {e}")
    if kind == "python":
        try:
            compile(dedent(check.get("tests", "")), "<tests>", "exec")
        except SyntaxError as e:
            problems.append(f"python: tests do not compile: {e}")
    return problems

# ---------------------------------------------------------------------------
# Check evaluation, mirroring src/quality/text.rs and code.rs.
# ---------------------------------------------------------------------------


def canonical_language(name: str) -> str:
    lower = name.strip().lower()
    return {"py": "python", "py3": "python", "python3": "python", "bash": "sh",
            "shell": "sh", "zsh": "sh", "js": "javascript", "node": "javascript"}.get(lower, lower)


def extract_code_block(reply: str, language: str | None) -> str | None:
    wanted = canonical_language(language) if language else None
    lines = reply.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        indent = len(line) - len(line.lstrip(" "))
        rest = line[indent:]
        if indent > 3 or not rest or rest[0] not in "`~":
            continue
        marker = rest[0]
        count = len(rest) - len(rest.lstrip(marker))
        info = rest[count:]
        if count < 3 or (marker == "`" and "`" in info):
            continue
        body = []
        while i < len(lines):
            inner = lines[i]
            i += 1
            trimmed = inner.strip()
            if len(trimmed) >= count and set(trimmed) == {marker}:
                break
            spaces = len(inner) - len(inner.lstrip(" "))
            body.append(inner[min(spaces, indent):])
        tag = (info.split() or [""])[0].lstrip("{.").rstrip("}")
        if wanted is None or canonical_language(tag) == wanted:
            return "\n".join(body)
    return None


def dedent(text: str) -> str:
    lines = text.splitlines()
    indents = [len(l) - len(l.lstrip(" \t")) for l in lines if l.strip()]
    common = min(indents, default=0)
    return "\n".join(l[common:] if len(l) >= common else l.lstrip() for l in lines)


def run_process(argv: list[str], files: dict[str, str], stdin: str | None,
                timeout: float) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="check-prompts-") as tmp:
        for name, content in files.items():
            Path(tmp, name).write_text(content, encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "TMPDIR": tmp,
               "LANG": "C.UTF-8"}
        try:
            done = subprocess.run(argv, cwd=tmp, env=env, timeout=timeout, text=True,
                                  input=stdin if stdin is not None else None,
                                  stdin=None if stdin is not None else subprocess.DEVNULL,
                                  capture_output=True, start_new_session=True)
        except subprocess.TimeoutExpired:
            return False, f"timed out after {timeout:g}s"
        if done.returncode == 0:
            return True, ""
        tail = (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}")
        return False, tail.splitlines()[-1][:200]


def run_check(check: dict, reply: str, python: str) -> tuple[bool, str]:
    kind = check["kind"]
    if kind in ("contains", "not_contains"):
        ic = check.get("ignore_case", False)
        hay, needle = (reply.lower(), check["value"].lower()) if ic else (reply, check["value"])
        found = needle in hay
        ok = found if kind == "contains" else not found
        return ok, "" if ok else f"{check['value']!r} {'not found' if kind == 'contains' else 'found'}"
    if kind == "regex":
        ok = re.search(check["pattern"], reply) is not None
        return ok, "" if ok else f"no match for /{check['pattern']}/"
    if kind == "equals":
        a, b = reply.strip(), check["value"].strip()
        if check.get("ignore_case", False):
            a, b = a.lower(), b.lower()
        return a == b, "" if a == b else "not equal"
    if kind == "max_words":
        words = len(reply.split())
        return words <= check["value"], f"{words} words"
    if kind == "json":
        block = extract_code_block(reply, "json") or extract_code_block(reply, None)
        for candidate in (reply.strip(), block):
            try:
                json.loads(candidate or "")
                return True, "(schema not validated here)" if "schema" in check else ""
            except ValueError:
                pass
        return False, "not JSON"
    timeout = parse_timeout(check.get("timeout", "10s"))
    if kind == "python":
        language = check.get("language_block") or "python"
        code = extract_code_block(reply, language)
        if code is None:
            code = extract_code_block(reply, None)
        if code is None:
            code = reply.strip()
        program = f"{code}\n\n# --- llmbench tests ---\n{dedent(check['tests'])}\n"
        return run_process([python, "-I", "main.py"], {"main.py": program}, None, timeout)
    if kind == "shell":
        return run_process(["/bin/sh", "-c", check["command"]], {}, reply, timeout)
    return False, f"unknown kind {kind!r}"


def run_all(checks: list[dict], reply: str, python: str) -> list[tuple[str, bool, str]]:
    return [(c["kind"], *run_check(c, reply, python)) for c in checks]

# ---------------------------------------------------------------------------
# Proving the prompt set.
# ---------------------------------------------------------------------------


def public_names(source: str) -> list[str]:
    tree = ast.parse(source)
    return [n.name for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")]


def as_reply(source: str) -> str:
    return f"```python\n{source.strip()}\n```"


@dataclass
class Outcome:
    prompt: Prompt
    problems: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    good: int = 0
    caught: int = 0
    wrong: int = 0
    seconds: float = 0.0


def prove(prompt: Prompt, python: str) -> Outcome:
    started = time.monotonic()
    out = Outcome(prompt)
    if prompt.has_python:
        source = SOLUTIONS.get(prompt.id)
        if source is None:
            out.problems.append("no reference solution in SOLUTIONS")
            return out
        names = public_names(source)
        missing = [n for n in names if n not in prompt.text]
        if missing:
            out.problems.append(f"the text does not name {missing}")
        goods = [as_reply(source)] + [as_reply(src) for _, src in ALTERNATIVES.get(prompt.id, [])]
        stub = "\n".join(f"def {n}(*a, **k):\n    return None" for n in names)
        wrongs = [("stub returning None", stub)] + MUTANTS.get(prompt.id, [])
        wrongs = [(what, as_reply(src)) for what, src in wrongs]
    else:
        goods = REPLIES.get(prompt.id)
        if not goods:
            out.problems.append("no good reply in REPLIES")
            return out
        wrongs = BAD_REPLIES.get(prompt.id, [])
        if not wrongs:
            out.problems.append("no bad reply in BAD_REPLIES")
    for n, good in enumerate(goods, 1):
        for kind, ok, reason in run_all(prompt.checks, good, python):
            if not ok:
                out.problems.append(f"good reply {n} fails its {kind} check: {reason}")
        estimate = round(len(good) / CHARS_PER_TOKEN)
        if prompt.max_tokens is not None and estimate > prompt.max_tokens:
            out.problems.append(f"good reply {n} is ~{estimate} tokens, over max_tokens {prompt.max_tokens}")
    out.good = len(goods)
    out.wrong = len(wrongs)
    for what, reply in wrongs:
        results = run_all(prompt.checks, reply, python)
        failed = [kind for kind, ok, _ in results if not ok]
        if prompt.has_python and "python" not in failed:
            out.problems.append(f"wrong answer passes the python check: {what}")
        elif not failed:
            out.problems.append(f"wrong answer passes every check: {what}")
        else:
            out.caught += 1
            reasons = "; ".join(f"{kind}: {reason}" for kind, ok, reason in results if not ok)
            out.details.append(f"caught {what}: {reasons}")
    out.seconds = time.monotonic() - started
    return out


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    argv = [a for a in argv if a != "-v"]
    python = shutil.which("python3")
    if python is None:
        print("python3 not found on PATH", file=sys.stderr)
        return 1
    paths = [Path(a).resolve() for a in argv] or sorted(ROOT.glob(DEFAULT_GLOB))
    if not paths:
        print(f"no prompt files match {DEFAULT_GLOB}", file=sys.stderr)
        return 1
    problems: list[str] = []
    prompts = load(paths, problems)
    ids = {p.id for p in prompts}
    for table, name in ((SOLUTIONS, "SOLUTIONS"), (ALTERNATIVES, "ALTERNATIVES"), (MUTANTS, "MUTANTS"), (REPLIES, "REPLIES"),
                        (BAD_REPLIES, "BAD_REPLIES")):
        for stale in sorted(set(table) - ids) if not argv else []:
            problems.append(f"{name} has an entry for unknown prompt {stale!r}")
    python_count = sum(p.has_python for p in prompts)
    if not argv and python_count < MIN_PYTHON_PROMPTS:
        problems.append(f"only {python_count} prompts have a python check; want at least {MIN_PYTHON_PROMPTS}")

    workers = max(2, min(8, os.cpu_count() or 2))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(lambda p: prove(p, python), prompts))

    width = max((len(p.id) for p in prompts), default=10)
    print(f"{'prompt':<{width}}  {'file':<36} {'checks':<44} result")
    for o in outcomes:
        p = o.prompt
        status = "ok" if not o.problems else "FAIL"
        detail = (f"{o.good} good repl{'y' if o.good == 1 else 'ies'} pass, "
                  f"{o.caught}/{o.wrong} wrong caught, {o.seconds:.1f}s")
        if o.problems:
            detail = f"{len(o.problems)} problem(s)"
        print(f"{p.id:<{width}}  {p.file:<36} {', '.join(p.kinds):<44} {status}: {detail}")
        problems.extend(f"{p.file}: {p.id}: {msg}" for msg in o.problems)
        if verbose:
            for line in o.details:
                print(f"    {line}")

    total_wrong = sum(o.wrong for o in outcomes)
    total_caught = sum(o.caught for o in outcomes)
    print()
    print(f"{len(prompts)} prompts in {len(paths)} files, {python_count} with a python check; "
          f"{total_caught}/{total_wrong} wrong answers caught")
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for msg in problems:
            print(f"  - {msg}")
        return 1
    print("all checks proven: every reference passes, every wrong answer fails")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
