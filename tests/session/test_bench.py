"""`nux bench`: rows for sync and async runs with consistent statistics, JSON output, runtime selection."""

from __future__ import annotations

import json

import nux.session
import pytest
from nux.cli import main
from nux.enf import save_enf
from nux.session.bench import measure_async, measure_sync, random_inputs


def test_bench_prints_and_writes_sync_and_async_rows(npu_enf, tmp_path, capsys):
    save_enf(npu_enf, tmp_path / "m.enf")
    out = tmp_path / "bench.json"
    assert main(["bench", str(tmp_path / "m.enf"), "-d", "golden", "-n", "4", "--workers", "2", "--json", str(out)]
                ) == 0
    text = capsys.readouterr().out
    assert "inferences/s" in text and "p99 µs" in text and "python" in text
    report = json.loads(out.read_text())
    assert report["device"] == "golden"
    rows = report["rows"]
    assert [(r["runtime"], r["mode"], r["in_flight"], r["n"]) for r in rows] == [("python", "sync", 1, 4),
                                                                                ("python", "async", 2, 4)]
    for r in rows:
        assert 0 < r["min_us"] <= r["p50_us"] <= r["p95_us"] <= r["p99_us"]
        assert r["min_us"] <= r["mean_us"] and r["inferences_per_s"] > 0


def test_unknown_runtimes_are_refused(npu_enf, tmp_path, capsys):
    save_enf(npu_enf, tmp_path / "m.enf")
    assert main(["bench", str(tmp_path / "m.enf"), "--runtime", "fortran"]) == 1
    assert "unknown runtime(s) ['fortran']; known: ['c', 'python']" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["npu_enf", "fallback_enf"])
def test_every_inference_is_timed_once(model, request):
    with nux.session.create(request.getfixturevalue(model), max_in_flight=3) as sess:
        inputs = random_inputs(sess.inputs())
        sync = measure_sync(sess, inputs, 3)
        pipelined = measure_async(sess, inputs, 5, 3)
    assert len(sync.latencies_us) == 3 and len(pipelined.latencies_us) == 5
    assert pipelined.seconds * 1e6 >= max(pipelined.latencies_us)


def test_a_json_path_in_a_missing_folder_fails_before_measuring(npu_enf, tmp_path, capsys):
    save_enf(npu_enf, tmp_path / "m.enf")
    assert main(["bench", str(tmp_path / "m.enf"), "--json", str(tmp_path / "no" / "b.json")]) == 1
    assert "b.json: folder" in capsys.readouterr().err and not (tmp_path / "no").exists()
