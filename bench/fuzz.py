"""A bad-input campaign against the real commands: every case a subprocess, as a user runs it.

Each case is generated from a seed and labelled by construction: ``bad`` (the contract: exit 2,
one line of at most 200 characters, no traceback, nothing written outside the run folder),
``good`` (must be accepted: exit 0) or ``any`` (damage that may or may not matter: exit 0 or
the contract). Kinds: space files, command-line values, dataset trees, damaged run folders,
``--resume`` combinations, report / suggest / export / predict arguments. A case that runs
past ``--timeout`` is a hang. The last line is the verdict.

    python bench/fuzz.py --cases 300 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WIDTH = 200

BASE = {"architectures": ["mobilenet_v2"], "budget": {"num_samples": 3, "max_epochs": 2}}
BAD_VALUES = {
    "number": [".inf", "-.inf", ".nan", "-1", "0", "1e400", "'0.01'", "abc", "[1]", "{a: 1}", "true", "null", "1.5e-3x"],
    "int": ["2.5", "-3", "max", "'7'", "1e30", ".inf"],
}
PARAMS = {  # name -> (valid values, bad values)
    "lr": (
        ["{loguniform: [1.0e-5, 1.0e-2]}", "{choice: [1e-3, 3e-4]}", "{fixed: 1e-3}"],
        [f"{{fixed: {v}}}" for v in BAD_VALUES["number"]] + ["{loguniform: [0, 1]}", "{uniform: [1, 0.1]}", "{int: [1, 3]}x"],
    ),
    "dropout": (["{uniform: [0.0, 0.5]}", "{choice: [0.1, 0.3]}"], ["{fixed: 1.0}", "{fixed: -0.1}", "{uniform: [0, 2]}", "{choice: [high]}", "{fixed: .nan}"]),
    "dense_units": (["{choice: [128, 256]}", "{int: [64, 128]}"], ["{int: [1, max]}", "{fixed: 0}", "{fixed: 32.5}", "{uniform: [1, 9]}", "{fixed: 1e12}"]),
    "unfrozen_blocks": (["{int: [0, max]}", "{choice: [0, 2]}"], ["{choice: [abc]}", "{uniform: [0, 3]}", "{fixed: -1}", "{fixed: 99}", "{int: [max, 3]}"]),
    "warmup_epochs": (["{choice: [0, 1]}"], ["{fixed: -1}", "{fixed: 1.5}", "{fixed: '1'}"]),
    "backbone_lr_mult": (["{choice: [0.1, 1.0]}"], ["{fixed: 0}", "{fixed: -1}", "{loguniform: [0, 1]}", "{fixed: .inf}"]),
    "batch_size": (["{choice: [16, 32]}"], ["{fixed: 32.5}", "{fixed: 0}", "{choice: [32, '64']}", "{uniform: [8, 64]}"]),
    "input_size": (["{choice: [96, default]}"], ["{fixed: 3}", "{fixed: big}", "{uniform: [96, 128]}", "{fixed: 99999}"]),
    "optimizer": (["{choice: [adam, sgd]}"], ["{fixed: adamm}", "{choice: [[adam], sgd]}", "{fixed: 3}", "{uniform: [0, 1]}"]),
    "augment": (["{fixed: light}"], ["{choice: [[study], none]}", "{fixed: heavy}", "{fixed: 1}"]),
    "lr_schedule": (["{fixed: cosine}"], ["{fixed: linear}", "{choice: []}"]),
    "grouping": (["{fixed: none}"], ["{fixed: nosuch}", "{choice: [none, 'auto:1']}", "{choice: [none, 'auto:150%']}", "{fixed: /etc/passwd}"]),
}
BAD_BUDGET = ["num_samples: 0", "num_samples: -5", "max_epochs: 0", "reduction_factor: 1.0000000001", "reduction_factor: 1", "grace_period: 0",
              "num_samples: 1e9", "sampler: bayes", "max_epochs: 2.5", "patience: -1", "num_samples: .nan"]  # fmt: skip
FLAGS = {  # flag -> (good values, bad values)
    "--num-samples": (["1", "5"], ["0", "-5", "x", "1e3", "2.5", ""]),
    "--max-epochs": (["1", "3"], ["0", "-1", "nan", "3.0"]),
    "--gpus-per-trial": (["0"], ["nan", "-1", "inf", "x"]),  # 0.5 is refused on a machine without a GPU, rightly
    "--cpus-per-trial": (["1", "0.5"], ["0", "-2", "nan", "inf"]),
    "--max-concurrent": (["1"], ["0", "-1", "x"]),
    "--seed": (["0", "42", str(2**32 - 1)], ["-1", str(2**32), str(2**70), "1.5"]),
    "--stall-timeout": (["600"], ["0", "-5", "nan"]),
    "--max-consecutive-failures": (["3"], ["0", "-1"]),
    "--storage": ([], ["ftp://h/x", "FILE", "/proc/x", "~nosuchuser/runs"]),
    "--class-name-pattern": (["^(.+)$"], ["(", "^(a|aa)+$LONG", "[z-a]", "nogroup"]),
    "--groupings-from": ([], ["/no/such/run", "FILE"]),
    "--weights": (["none"], ["/no/such.h5", "imagenett"]),
    "--space": (["finetune"], ["nosuch", "/dev/null", "DIR", "~nosuchuser/s.yaml", "NOTUTF8"]),
    "--data": ([], ["/no/such", "FILE", "~nosuchuser/d"]),
}


@dataclass
class Case:
    kind: str
    label: str  # bad | good | any
    argv: list[str]
    folder: str
    note: str


def _write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)  # type: ignore[operator]
    return path


def _space_text(params: dict[str, str], extra: str = "") -> str:
    lines = ["architectures: [mobilenet_v2]", "budget: {num_samples: 3, max_epochs: 2}"]
    if params:
        lines.append("params:")
        lines += [f"  {k}: {v}" for k, v in params.items()]
    return "\n".join(lines) + "\n" + extra


def _dry(space: Path | str, folder: Path, *extra: str) -> list[str]:
    return ["search", "--space", str(space), "--dry-run", "--weights", "none", "--storage", str(folder / "runs"), *extra]


def _dataset(folder: Path, rng: random.Random, defect: str | None) -> Path:
    import numpy as np
    from PIL import Image

    data = folder / "data"
    names = ["cat", "dog", "fox"][: rng.choice([2, 3])]
    for k, name in enumerate(names):
        (data / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((12, 12, 3), (40 * k + 9 * i) % 255, np.uint8)).save(data / name / f"{i}.png")
    if defect == "all_garbage":
        for p in data.rglob("*.png"):
            p.write_bytes(os.urandom(50))
    elif defect == "class_garbage":
        for p in (data / names[0]).glob("*.png"):
            p.write_bytes(b"")
    elif defect == "one_class":
        for name in names[1:]:
            shutil.rmtree(data / name)
    elif defect == "not_utf8":
        os.mkdir(os.fsencode(data) + b"/bad\xff")
        shutil.copy(next((data / names[0]).glob("*.png")), os.fsdecode(os.fsencode(data) + b"/bad\xff/0.png"))
    elif defect == "empty_class":
        (data / "empty").mkdir()
    elif defect == "pattern_collide":
        (data / "cat_1").mkdir()
        shutil.copy(next((data / names[0]).glob("*.png")), data / "cat_1" / "x.png")
    elif defect in ("loop", "self_link"):  # not bad: links are skipped, the rest is a dataset
        os.symlink(data / names[0], data / names[0] / "again") if defect == "loop" else os.symlink("self", data / names[0] / "self")
    return data


def make_cases(n: int, seed: int, base: Path, run_template: Path | None) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []
    kinds = ["space_bad", "space_good", "space_raw", "flag_bad", "flag_good", "dataset", "run_damage", "resume", "other_commands"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        folder = base / f"c{i:04d}"
        folder.mkdir(parents=True)
        note = ""
        if kind in ("space_bad", "space_good"):
            names = rng.sample(sorted(PARAMS), rng.randint(1, 3))
            params = {k: rng.choice(PARAMS[k][0]) for k in names}
            label = "good"
            if kind == "space_bad":
                bad = rng.choice(names)
                params[bad] = rng.choice(PARAMS[bad][1])
                label, note = "bad", f"{bad}: {params[bad]}"
            else:
                note = json.dumps(params)
            argv, label = _dry(_write(folder, "s.yaml", _space_text(params)), folder), label
        elif kind == "space_raw":
            choice = rng.choice(["budget", "yaml", "utf8", "deep", "dup", "metric", "grouping_metric", "list", "empty", "arch"])
            text: str | bytes = {
                "budget": "architectures: [mobilenet_v2]\nbudget: {" + rng.choice(BAD_BUDGET) + "}\n",
                "yaml": "architectures: [mobilenet_v2\nparams: {lr: {fixed: 1}}\n",
                "utf8": b"architectures: [mobilenet_v2]\n# \xff\xfe\n",
                "deep": "architectures: [mobilenet_v2]\nparams:\n  lr: " + "[" * 3000 + "]" * 3000 + "\n",
                "dup": "architectures: [mobilenet_v2]\narchitectures: [resnet50]\n",
                "metric": "architectures: [mobilenet_v2]\nmetric: val_loss\nmode: max\n",
                "grouping_metric": "architectures: [mobilenet_v2]\nmetric: val_accuracy\nparams:\n  grouping: {choice: [none, 'auto:3']}\n",
                "list": "- architectures\n- mobilenet_v2\n",
                "empty": "",
                "arch": "architectures: [nosuchnet]\n",
            }[choice]
            argv, label, note = _dry(_write(folder, "s.yaml", text), folder), "bad", choice
        elif kind in ("flag_bad", "flag_good"):
            flag = rng.choice([f for f in FLAGS if FLAGS[f][0 if kind == "flag_good" else 1]])
            value = rng.choice(FLAGS[flag][0 if kind == "flag_good" else 1])
            if value == "FILE":
                value = str(_write(folder, "afile", "x"))
            elif value == "DIR":
                (folder / "d.yaml").mkdir()
                value = str(folder / "d.yaml")
            elif value == "NOTUTF8":
                value = str(_write(folder, "n.yaml", b"architectures: [\xff]\n"))
            elif value.endswith("LONG"):
                value = value[:-4]
                d = folder / "data"
                for name in ("a" * 60 + "b", "cat"):
                    (d / name).mkdir(parents=True)
                    import numpy as np
                    from PIL import Image

                    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(d / name / "0.png")
                argv = [
                    "search",
                    "--space",
                    "finetune",
                    "--dry-run",
                    "--weights",
                    "none",
                    "--data",
                    str(d),
                    "--storage",
                    str(folder / "runs"),
                    f"{flag}={value}",
                ]
                cases.append(Case(kind, "bad", argv, str(folder), f"{flag}={value}"))
                continue
            argv = ["search", "--dry-run", "--storage", str(folder / "runs")] if flag != "--storage" else ["search", "--dry-run"]
            if flag != "--weights":
                argv += ["--weights", "none"]
            if flag != "--space":
                argv += ["--space", "finetune"]
            argv.append(f"{flag}={value}")
            label, note = ("good" if kind == "flag_good" else "bad"), f"{flag}={value}"
        elif kind == "dataset":
            defect = rng.choice(["all_garbage", "class_garbage", "one_class", "not_utf8", "empty_class", "loop", "self_link", None])
            data = _dataset(folder, rng, defect)
            label = "good" if defect in (None, "loop", "self_link") else "bad"
            if rng.random() < 0.5:
                argv = ["data", "inspect", str(data)]
            else:
                argv = _dry("finetune", folder, "--data", str(data))
            note = str(defect)
        elif kind == "run_damage" and run_template is not None:
            run = Path(shutil.copytree(run_template, folder / "run"))
            target = rng.choice(["leaderboard.parquet", "run.json", "confusion"])
            path = next(run.rglob("confusion.npy")) if target == "confusion" else run / target
            how = rng.choice(["truncate", "flip", "json_list", "json_garbage", "empty"])
            raw = path.read_bytes()
            if how == "truncate":
                path.write_bytes(raw[: rng.randint(0, max(0, len(raw) - 1))])
            elif how == "flip":
                at = rng.randint(0, max(0, len(raw) - 1))
                path.write_bytes(raw[:at] + bytes(b ^ 0x5A for b in raw[at : at + rng.randint(1, 200)]) + raw[at + 200 :])
            elif how == "json_list":
                path.write_text("[1, 2, 3]")
            elif how == "json_garbage":
                path.write_text('{"a": Infinity, ')
            else:
                path.write_bytes(b"")
            command = rng.choice([["report", str(run), "--out", str(folder / "report")], ["groupings", "suggest", str(run), "--classes", "3"]])
            argv, label, note = command, "any", f"{target} {how}"
        elif kind == "resume" and run_template is not None:
            run = Path(shutil.copytree(run_template, folder / "run"))
            extra = rng.choice([["--dry-run"], ["--num-samples", "-5"], ["--num-samples", "9"], ["--max-epochs", "3"], ["--seed", "3"], ["--weights", "none"],
                                ["--storage", "x"], ["--name", "n"], ["--space=finetune"], ["--gpus-per-trial", "1"]])  # fmt: skip
            argv, label, note = ["search", "--resume", str(run), *extra], "bad", " ".join(extra)
        else:
            choice = rng.choice(["report_missing", "report_file", "export_missing", "predict_missing", "predict_inf", "suggest_k", "noargs", "unknown"])
            if choice == "report_missing":
                argv = ["report", str(folder / "nope")]
            elif choice == "report_file":
                argv = ["report", str(_write(folder, "f", "x"))]
            elif choice == "export_missing":
                argv = ["export", str(folder / "nope"), "--out", str(folder / "out")]
            elif choice == "predict_missing":
                argv = ["predict", str(folder / "nope"), str(folder / "x.png")]
            elif choice == "predict_inf":
                exp = folder / "export"
                _write(exp, "model.keras", b"x")
                _write(exp, "labels.json", '["a", "b"]')
                _write(exp, "preprocessing.json", '{"image_size": Infinity}')
                argv = ["predict", str(exp), str(_write(folder, "x.png", b"x"))]
            elif choice == "suggest_k" and run_template is not None:
                argv = ["groupings", "suggest", str(run_template), "--classes", rng.choice(["0", "1", "-3", "99"])]
            elif choice == "noargs":
                cases.append(Case(kind, "good", [], str(folder), "tuner alone"))
                continue
            else:
                argv = ["serch"]
            label, note = "bad", choice
        cases.append(Case(kind, label, argv, str(folder), note))
    return cases


def run_case(job: tuple[Case, float]) -> dict:
    case, timeout = job
    folder = Path(case.folder)
    before = {str(p) for p in folder.rglob("*")}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "RAY_ADDRESS": ""}
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tuner", *case.argv], cwd=folder, capture_output=True, text=True, timeout=timeout, env=env, errors="replace"
        )
        rc, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired:
        rc, err = None, ""
    seconds = time.monotonic() - start
    after = {str(p) for p in folder.rglob("*")}
    written = sorted(p for p in after - before if "/runs/" not in p and "/report" not in p and not p.endswith((".pyc", "__pycache__")))
    lines = err.strip().splitlines()
    if rc is None:
        verdict = "hang"
    elif "Traceback" in err or rc not in (0, 2):
        verdict = "traceback"
    elif rc == 2 and (len(lines) != 1 or len(lines[0]) > WIDTH):
        verdict = "not one line"
    elif rc == 0 and case.label == "bad":
        verdict = "bad accepted"
    elif rc == 2 and case.label == "good":
        verdict = "good refused"
    elif written and case.label != "good":
        verdict = "wrote outside the run folder"
    else:
        verdict = "ok"
    return {"kind": case.kind, "label": case.label, "note": case.note, "argv": case.argv, "rc": rc, "verdict": verdict, "seconds": round(seconds, 1),
            "stderr": err[-600:], "written": written[:5]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a case counts as a hang")
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", type=Path, default=None, help="write every case's result here")
    args = ap.parse_args(argv)
    from tests.report._synthetic import write_synthetic_run

    base = Path(tempfile.mkdtemp(prefix="tuner-fuzz-"))
    try:
        template = write_synthetic_run(base / "template" / "run", n_trials=24, n_classes=6, groupings=False)
        (template / "run.json").write_text(json.dumps({"schema_version": 0}))
        cases = make_cases(args.cases, args.seed, base / "cases", template)
        t0 = time.monotonic()
        from multiprocessing.pool import ThreadPool

        with ThreadPool(args.processes) as pool:
            results = []
            for k, r in enumerate(pool.imap_unordered(run_case, [(c, args.timeout) for c in cases]), start=1):
                results.append(r)
                if r["verdict"] != "ok":
                    print(
                        f"  {r['verdict']}: {r['kind']} {r['note'][:80]} -> rc {r['rc']}: {r['stderr'].strip().splitlines()[-1:] if r['stderr'] else ''}",
                        flush=True,
                    )
                if k % 50 == 0:
                    print(f"{k}/{len(cases)} cases, {time.monotonic() - t0:.0f} s", flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
        by_label = Counter(r["label"] for r in results)
        verdicts = Counter(r["verdict"] for r in results)
        kinds = Counter(r["kind"] for r in results)
        print(f"\n{len(results)} cases ({', '.join(f'{n} {k}' for k, n in by_label.items())}) in {time.monotonic() - t0:.0f} s; kinds: {dict(kinds)}")
        print(f"slowest case: {max(r['seconds'] for r in results):.1f} s")
        print("verdicts: " + ", ".join(f"{k} {n}" for k, n in verdicts.most_common()))
        fails = sum(n for k, n in verdicts.items() if k != "ok")
        counts = [
            f"{verdicts['traceback']} tracebacks",
            f"{verdicts['hang']} hangs",
            f"{verdicts['bad accepted']} bad inputs accepted",
            f"{verdicts['good refused']} good inputs refused",
            f"{verdicts['not one line']} not one line",
            f"{verdicts['wrote outside the run folder']} writes outside the run folder",
        ]
        print(f"fuzz: {'PASS' if not fails else 'FAIL'}: {', '.join(counts)}")
        return 0 if not fails else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
