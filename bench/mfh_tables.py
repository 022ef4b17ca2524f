"""Learning-curve tables from a public multi-fidelity benchmark: mf-prior-bench's MF-Hartmann.

``mfpbench`` (PyPI ``mf-prior-bench``; Bergman et al.) ships the multi-fidelity Hartmann
functions with no download: a fidelity ``z`` in 1..100 flattens the objective (``bias``) and
adds noise that shrinks as ``z`` grows; its variants ``good`` / ``bad`` set how well low
fidelities predict the last one. Here each table is a discrete grid over the function's
inputs, each input dressed as one of tuner's parameters (the replay needs a tuner space; the
mapping is rank-preserving and every such parameter is a ``choice``, so TPE sees categories as
it does in the image tables), epochs 1..12 at fidelities ``round(100 ** (e / 12))``, three
noise seeds, and "accuracy" = -value / |global minimum| (1.0 at the optimum; regret in points =
percent of the optimum). ``test_accuracy`` is the noise-free value at that fidelity.

mf-prior-bench pins ``numpy<2`` (tuner needs 2.x), so it lives in its own virtual environment
and this script asks it for the values:

    python -m venv /tmp/mfp && /tmp/mfp/bin/pip install mf-prior-bench==1.10.0
    python bench/mfh_tables.py --mfpbench-python /tmp/mfp/bin/python --out bench/tables
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))

EPOCHS = 12
SEEDS = (1, 2, 3)
MINIMUM = {3: -3.86278, 6: -3.32237}
#: tuner parameters that carry the function's inputs, in input order, with the values that
#: stand for the input's grid levels (ascending with the input).
CARRIERS = {
    "lr": [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2],
    "dropout": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
    "dense_units": [16, 32, 48, 64, 96, 128, 192, 256],
    "batch_size": [16, 32, 48, 64, 96, 128, 192, 256],
    "warmup_epochs": [0, 1, 2, 3, 4, 5, 6, 7],
    "backbone_lr_mult": [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 2.0],
}
#: table name -> (mfpbench benchmark, input levels per dimension)
TABLES = {
    "mfh3_good": ("mfh3_good", (0.05, 0.15, 0.3, 0.45, 0.6, 0.7, 0.85, 0.95)),
    "mfh3_bad": ("mfh3_bad", (0.05, 0.15, 0.3, 0.45, 0.6, 0.7, 0.85, 0.95)),
    "mfh6_good": ("mfh6_good", (0.15, 0.45, 0.75)),
    "mfh6_bad": ("mfh6_bad", (0.15, 0.45, 0.75)),
}
_EVAL = r"""
import json, sys, mfpbench
job = json.load(sys.stdin)
out = {"val": [], "test": []}
clean = mfpbench.get(job["bench"], noise=0.0)
noisy = [mfpbench.get(job["bench"], seed=s) for s in job["seeds"]]
for xs in job["points"]:
    cfg = {f"X_{i}": x for i, x in enumerate(xs)}
    out["val"].append([[b.query(b.Config.from_dict(cfg), at=z).value.value for z in job["z"]] for b in noisy])
    out["test"].append([clean.query(clean.Config.from_dict(cfg), at=z).value.value for z in job["z"]])
json.dump(out, sys.stdout)
"""


def fidelities(epochs: int = EPOCHS) -> list[int]:
    """The fidelity of each epoch: geometric from 1 to 100, as training curves flatten."""
    return [max(1, round(100 ** (e / epochs))) for e in range(1, epochs + 1)]


def space_yaml(name: str, dims: int, levels: int) -> dict:
    carriers = list(CARRIERS)[:dims]
    params: dict = {k: {"choice": CARRIERS[k][:levels]} for k in carriers}
    params.update({"optimizer": {"fixed": "adam"}, "unfrozen_blocks": {"fixed": 3}, "input_size": {"fixed": 16}, "augment": {"fixed": "none"}})
    for k in ("dropout", "dense_units", "batch_size", "warmup_epochs", "backbone_lr_mult"):
        params.setdefault(k, {"fixed": {"dropout": 0.2, "dense_units": 128, "batch_size": 32, "warmup_epochs": 0, "backbone_lr_mult": 1.0}[k]})
    return {
        "name": name,
        "description": f"mf-prior-bench {name}: {dims}-d MF-Hartmann on a {levels}^{dims} grid (learning-curve table)",
        "kind": "finetune",
        "metric": "val_accuracy",
        "mode": "max",
        "architectures": ["digits_cnn"],
        "params": params,
        "budget": {"num_samples": 40, "max_epochs": EPOCHS, "grace_period": 1, "reduction_factor": 3},
    }


def build(name: str, python: str, out: Path) -> Path:
    import _digits  # noqa: F401  # the space names the bench CNN
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tabulate import META_KEY

    from tuner.search.space._grid import grid_points
    from tuner.search.space._space import SearchSpace

    bench, levels = TABLES[name]
    dims = int(bench[3])
    space = SearchSpace.model_validate(space_yaml(name, dims, len(levels)))
    carriers = list(CARRIERS)[:dims]
    points = grid_points(space)
    xs = [[levels[CARRIERS[k].index(p[k])] for k in carriers] for p in points]
    z = fidelities()
    job = {"bench": bench, "seeds": list(SEEDS), "points": xs, "z": z}
    res = subprocess.run([python, "-c", _EVAL], input=json.dumps(job), capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"mf-prior-bench failed: {res.stderr.strip().splitlines()[-1:]}")
    values = json.loads(res.stdout)
    scale = -MINIMUM[dims]
    rows = []
    for i, p in enumerate(points):
        for s in range(len(SEEDS)):
            for e in range(EPOCHS):
                v, t = -values["val"][i][s][e] / scale, -values["test"][i][e] / scale
                rows.append(
                    {
                        "point": i,
                        "seed": s,
                        "epoch": e + 1,
                        **p,
                        "val_accuracy": v,
                        "test_accuracy": t,
                        "val_loss": -v,
                        "seconds": 1.0,
                        "setup_seconds": 0.0,
                        "failure_reason": "",
                    }
                )
    frame = pd.DataFrame(rows)
    meta = {
        "space": space.model_dump(mode="json"),
        "space_file": "",
        "metric": "val_accuracy",
        "mode": "max",
        "max_epochs": EPOCHS,
        "seeds": len(SEEDS),
        "points": len(points),
        "identity": f"mfpbench:{bench}",
        # not "none": the replay then samples warm-up and backbone multiplier (inputs here), as
        # for a pretrained backbone, instead of fixing them as for training from scratch
        "weights": "synthetic",
        "benchmark": {"package": "mf-prior-bench==1.10.0", "name": bench, "levels": list(levels), "fidelities": z, "inputs": carriers},
        "command": f"python bench/mfh_tables.py --mfpbench-python PY --out {out.parent} --table {name}",
    }
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(meta).encode()})
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".tmp", delete=False) as fh:
        tmp = fh.name
    pq.write_table(table, tmp)
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mfpbench-python", required=True, help="a Python with mf-prior-bench installed (see the docstring)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "tables", help="folder for the tables")
    ap.add_argument("--table", action="append", choices=list(TABLES), help="only these (default: all)")
    args = ap.parse_args(argv)
    for name in args.table or TABLES:
        path = build(name, args.mfpbench_python, args.out / f"{name}.parquet")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
