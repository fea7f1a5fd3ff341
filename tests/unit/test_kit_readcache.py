"""``servicekit.readcache.ReadCache``: values kept for the TTL at most, dropped by a bump, and a
read that began before a bump never stored."""

from __future__ import annotations

from servicekit.readcache import ReadCache


class Seconds:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_kept_for_the_ttl_and_no_longer() -> None:
    t = Seconds()
    cache: ReadCache[str, int] = ReadCache(5.0, now=t)
    cache.put("a", 1, cache.generation)
    t.now += 4.9
    assert cache.get("a") == 1
    t.now += 0.2
    assert cache.get("a") is None and (cache.hits, cache.misses) == (1, 1)


def test_a_bump_drops_everything_and_a_read_begun_before_it_is_not_stored() -> None:
    cache: ReadCache[str, int] = ReadCache(5.0, now=Seconds())
    cache.put("a", 1, cache.generation)
    began = cache.generation  # a fetch starts reading
    cache.bump()  # this process writes meanwhile
    assert cache.get("a") is None
    cache.put("b", 2, began)  # what that fetch read may predate the write
    assert cache.get("b") is None
    cache.put("b", 3, cache.generation)
    assert cache.get("b") == 3
    cache.drop("b")
    assert cache.get("b") is None


def test_a_ttl_of_zero_keeps_nothing_and_the_oldest_go_first_past_the_bound() -> None:
    off: ReadCache[str, int] = ReadCache(0, now=Seconds())
    off.put("a", 1, off.generation)
    assert off.get("a") is None
    small: ReadCache[int, int] = ReadCache(5.0, max_entries=3, now=Seconds())
    small.put_many({i: i for i in range(5)}, small.generation)
    assert [small.get(i) for i in range(5)] == [None, None, 2, 3, 4]
