"""utils.bench runs end to end on a few images (its numbers are not checked: speed lives in `make bench`)."""
from __future__ import annotations

import json


def test_bench_writes_its_table(dataset_dir, tmp_path) -> None:
    from utils import bench

    out = tmp_path / "bench.json"
    result = bench.main(["--images", "4", "--batch-size", "2", "--num-workers", "0", "--lime-samples", "0",
                         "--source", str(dataset_dir), "--output", str(out)])
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(result))
    assert [e["encoder"] for e in saved["encoders"]] == ["clip", "vgg16"]
    assert saved["encoders"][0]["parameters"] == 87_849_216
    assert all(e["pipeline_img_per_s"] > 0 and e["bare_forward_img_per_s"] > 0 for e in saved["encoders"])
    assert [h["head"] for h in saved["heads"]] == ["clip", "vgg16"]
