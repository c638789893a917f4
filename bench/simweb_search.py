"""Throughput of the simweb site search: corpora for 50 cities, every topic question, all modes.

    .venv/bin/python bench/simweb_search.py [--rounds 3]

Prints corpus build time, index build time, and searches/s per mode and for the mix of the four
modes that do search (one process, one core; indexes are built once per corpus and reused).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.simweb.corpus import TOPICS, build_corpus  # noqa: E402
from fixtures.simweb.search import SEARCH_MODES, build_index, search  # noqa: E402

CITIES = (
    "北京 上海 广州 深圳 成都 杭州 重庆 武汉 西安 苏州 天津 南京 长沙 郑州 东莞 青岛 沈阳 宁波 "
    "昆明 合肥 福州 厦门 济南 哈尔滨 长春 南宁 贵阳 石家庄 太原 南昌 珠海 兰州 呼和浩特 银川 "
    "西宁 海口 乌鲁木齐 盐城 遵义 宜宾 马鞍山 运城 聊城 拉萨 河池 巴中 潍坊 绍兴 洛阳 桂林"
).split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over all queries")
    args = parser.parse_args()
    today = date(2025, 6, 1)

    t0 = time.perf_counter()
    corpora = [build_corpus(city, 1, today) for city in CITIES]
    t1 = time.perf_counter()
    indexes = [build_index(c) for c in corpora]
    t2 = time.perf_counter()
    sizes = [len(c) for c in corpora]
    print(f"{len(CITIES)} cities, {min(sizes)}-{max(sizes)} articles per portal "
          f"(mean {sum(sizes) / len(sizes):.0f})")
    print(f"corpus build {1000 * (t1 - t0) / len(CITIES):.2f} ms/portal, "
          f"index build {1000 * (t2 - t1) / len(CITIES):.2f} ms/portal")

    queries = [[t.question.format(city=city) for t in TOPICS] for city in CITIES]
    total_n, total_s = 0, 0.0
    for mode in SEARCH_MODES:
        n = 0
        start = time.perf_counter()
        for _ in range(args.rounds):
            for corpus, qs in zip(corpora, queries, strict=True):
                for q in qs:
                    search(corpus, q, mode)  # by corpus tuple: includes the cache lookup
                    n += 1
        spent = time.perf_counter() - start
        if mode != "empty":  # a broken index costs nothing; leave it out of the mix
            total_n, total_s = total_n + n, total_s + spent
        print(f"{mode:>10}: {n / spent:9.0f} searches/s  ({1e6 * spent / n:6.1f} µs each)")
    print(f"{'mix':>10}: {total_n / total_s:9.0f} searches/s  ({1e6 * total_s / total_n:6.1f} µs each)"
          "  [the four modes that search]")
    del indexes


if __name__ == "__main__":
    main()
