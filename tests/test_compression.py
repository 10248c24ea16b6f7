"""The site dictionary's pure parts: codecs (pagecache.core.compression), the entry codec
``d`` (pagecache.core.entry) and the decisions (pagecache.core.dictionary). No Redis."""

from __future__ import annotations

import random
import threading

import pytest

from pagecache.core import compression, entry
from pagecache.core import dictionary as policy
from pagecache.core.dictionary import Current, Samples
from pagecache.core.entry import Entry, dumps, loads
from tests.site_pages import payloads, site_page

pytestmark = pytest.mark.skipif(not compression.HAVE_ZSTD, reason="needs zstd")


@pytest.fixture(scope="module")
def trained() -> compression.Dictionary:
    found = compression.train(payloads(range(100, 164)), policy.DICTIONARY_MAX_BYTES)
    assert found is not None
    return found


def page_entry(seed: int) -> Entry:
    return Entry(
        200,
        "OK",
        (("Content-Type", "text/html; charset=utf-8"), ("X-Frame-Options", "DENY")),
        site_page(seed),
        ("page", f"row:{seed}"),
        1_795_000_000_000_000,
        3600,
        30,
    )


# -- codecs ---------------------------------------------------------------------------------


def test_a_dictionary_is_named_by_the_id_in_its_header_and_in_every_frame(trained):
    assert compression.dictionary_id(trained.data) == trained.id > 0
    frame = trained.compress(b"hello " * 100)
    assert compression.frame_dictionary_id(frame) == trained.id
    assert compression.frame_dictionary_id(compression.zstd_compress(b"x" * 2000)) == 0
    assert compression.frame_dictionary_id(b"not a frame") is None
    assert trained.decompress(frame) == b"hello " * 100


def test_load_dictionary_refuses_what_is_not_one(trained):
    assert compression.load_dictionary(trained.data).id == trained.id
    for data in (None, "text", b"", b"garbage" * 10, trained.data[:12], site_page(1)):
        assert compression.load_dictionary(data) is None


def test_training_on_too_little_is_refused_not_raised():
    assert compression.train([b"a", b"b"], 4096) is None
    assert compression.train([], 4096) is None


def test_the_dictionary_halves_a_site_page_and_the_slow_level_saves_a_third_more(trained):
    payload = site_page(8)
    plain = len(compression.zstd_compress(payload))
    fast = len(trained.compress(payload, compression.FAST_LEVEL))
    slow = len(trained.compress(payload, compression.SLOW_LEVEL))
    assert slow < fast < plain * 0.8
    assert slow < 2_500  # what the 3 KB memory target needs


def test_threads_share_a_dictionary(trained):
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        try:
            for level in (compression.FAST_LEVEL, compression.SLOW_LEVEL, compression.FAST_LEVEL):
                payload = site_page(seed)
                assert trained.decompress(trained.compress(payload, level)) == payload
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# -- the entry codec "d" --------------------------------------------------------------------


def test_round_trip_with_a_dictionary(trained):
    page = page_entry(8)
    data = dumps(page, dictionary=trained)
    assert data.partition(b"\n")[2][:1] == b"d"
    assert entry.wanted_dictionary(data) == trained.id
    assert loads(data, trained) == page
    assert len(data) < len(dumps(page)) * 0.8


def test_an_entry_without_its_dictionary_is_a_miss(trained):
    data = dumps(page_entry(8), dictionary=trained)
    other = compression.train(payloads(range(300, 340)), 32 * 1024)
    assert other is not None and other.id != trained.id
    assert loads(data) is None
    assert loads(data, other) is None
    assert entry.payload_of(data) is None


@pytest.mark.parametrize(
    "payload",
    [b"", b"garbage", compression.FRAME_MAGIC + b"\x23\x01\x02\x03\x04junk"],
)
def test_a_corrupt_dictionary_payload_is_a_miss(trained, payload):
    data = b"PC3 1 2 3 0123456789abcdef 0\nd" + payload
    assert loads(data, trained) is None


def test_old_codecs_stay_readable_and_need_no_dictionary(trained):
    page = page_entry(3)
    plain = dumps(page)
    raw = dumps(page, compress_min=10**9)
    assert plain.partition(b"\n")[2][:1] == b"s"
    for data in (plain, raw):
        assert entry.wanted_dictionary(data) is None
        assert loads(data) == page
        assert loads(data, trained) == page  # a dictionary given but not needed is ignored


def test_compressing_again_keeps_the_header_and_the_entry(trained):
    page = page_entry(9)
    fast = dumps(page, dictionary=trained)
    head, payload = entry.payload_of(fast, trained)
    slow = entry.with_payload(head, payload, trained, compression.SLOW_LEVEL)
    assert slow.startswith(head) and len(slow) < len(fast)
    assert loads(slow, trained) == page
    # The same header, so the same content id: a process holding it decoded stays right.
    assert entry.read_header(slow) == entry.read_header(fast)
    plain = dumps(page)  # written before this process had a dictionary
    head, payload = entry.payload_of(plain)
    assert loads(entry.with_payload(head, payload, trained, compression.SLOW_LEVEL), trained)


# -- decisions ------------------------------------------------------------------------------

DAY = 86_400.0


@pytest.mark.parametrize(
    ("current", "samples", "sample_bytes", "worse_by", "now", "due", "reason"),
    [
        (None, 10, 500_000, 1.0, 0, False, "10 entries (500000 bytes) sampled: too few"),
        (None, 40, 50_000, 1.0, 0, False, "40 entries (50000 bytes) sampled: too few"),
        (None, 32, 200_000, 1.0, 0, True, "the site has no dictionary yet"),
        (Current(1, 32, 0), 63, 2e6, 1.0, 0, False, "the current dictionary is good"),
        (Current(1, 32, 0), 64, 2e6, 1.0, 0, True, "it was trained on 32 entries; 64 now"),
        (Current(1, 100, 0), 128, 2e6, 1.0, 0, True, "it was trained on 100 entries; 128 now"),
        (Current(1, 128, 0), 128, 2e6, 1.0, DAY, False, "the current dictionary is good"),
        (Current(1, 128, 0), 128, 2e6, 1.3, 60, False, "the current dictionary is good"),
        (Current(1, 128, 0), 128, 2e6, 1.3, DAY, True, "entries compress 1.30 times worse"),
    ],
)
def test_training_due(current, samples, sample_bytes, worse_by, now, due, reason):
    decision = policy.training_due(
        current, samples=samples, sample_bytes=int(sample_bytes), worse_by=worse_by, now=now
    )
    assert (bool(decision), decision.reason[: len(reason)]) == (due, reason)


@pytest.mark.parametrize(
    ("life", "have", "codec", "due"),
    [
        (3600, True, b"d", True),
        (60, True, b"s", True),  # written before this process had a dictionary
        (59, True, b"d", False),
        (3600, False, b"s", False),
        (3600, True, b"0", False),
        (3600, True, b"z", False),
    ],
)
def test_recompress_due(life, have, codec, due):
    assert bool(policy.recompress_due(life, have_dictionary=have, codec=codec)) is due


def test_samples_are_bounded_one_per_key_and_follow_the_site():
    samples = Samples(count=4, total_bytes=1000, rng=random.Random(0))
    samples.add("a", b"x" * 300)
    samples.add("a", b"y" * 300)  # the same key replaces its sample
    assert (len(samples), samples.bytes) == (1, 300)
    for key in "bcdefgh":
        samples.add(key, b"z" * 300)
    assert len(samples) <= 4 and samples.bytes <= 1000
    assert b"z" * 300 in samples.payloads()
    samples.add("huge", b"h" * (policy.SAMPLE_MAX_BYTES + 10))
    assert max(map(len, samples.payloads())) <= policy.SAMPLE_MAX_BYTES


def test_samples_memory_bound_holds_for_any_sizes():
    samples = Samples(rng=random.Random(1))
    rng = random.Random(2)
    for _ in range(1000):
        samples.add(f"k{rng.randrange(400)}", b"p" * rng.randrange(1, 200_000))
        assert samples.bytes <= policy.SAMPLES_MAX_BYTES
        assert len(samples) <= policy.FULL_SAMPLES
    assert samples.bytes == sum(map(len, samples.payloads()))


def test_ratio_tells_when_entries_compress_worse_than_at_first():
    ratio = policy.Ratio()
    for _ in range(100):
        ratio.add(1000, 200)
    assert ratio.worse_by() == pytest.approx(1.0)
    for _ in range(300):
        ratio.add(1000, 300)
    assert ratio.worse_by() >= policy.RETRAIN_WORSE_BY


@pytest.mark.parametrize("data", [None, b"", b"zz 1 2", b"1234abcd 1", b"0 1 2", "1 2 3"])
def test_current_pointer_garbage_reads_as_none(data):
    assert Current.loads(data) is None


def test_keys_live_under_the_prefix():
    assert policy.dictionary_key("site", 0xABC) == "site:zd:00000abc"
    assert policy.current_key("site") == "site:zd:current"
    assert policy.training_key("site") == "site:zd:training"
