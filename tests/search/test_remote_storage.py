"""``--storage s3://...``: a search whose experiments and checkpoints live on object storage,
against a real S3 endpoint on this machine (moto's server speaks the S3 protocol; pyarrow,
Tune and Train talk to it as to AWS). Report and export then fetch what they need."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.search.conftest import lenet_space, write_space
from tuner.leaderboard import read_leaderboard

pytestmark = pytest.mark.slow

SPACE = lenet_space("num_samples: 2, max_epochs: 2, grace_period: 2, reduction_factor: 2", batch_size=64)


@pytest.fixture(scope="module")
def s3_uri(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "moto server did not start"
                time.sleep(0.3)
        uri = f"s3://test:secret@bucket/runs?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
        from tuner._storage import open_uri

        fs, _ = open_uri(uri + "&allow_bucket_creation=true")
        fs.create_dir("bucket")  # the bucket exists beforehand, as on AWS
        yield uri
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _cli(module, *args, cwd, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, env=env, check=False, capture_output=True, text=True, timeout=timeout)


def test_search_on_object_storage_then_report_and_export_fetch_checkpoints(ray_address, s3_uri, tmp_path):
    import pyarrow.fs as pafs

    from tuner._storage import open_uri

    env = {**os.environ, "RAY_ADDRESS": ray_address, "RAY_AUTH_MODE": "token"}
    space = write_space(tmp_path / "spaces", SPACE)
    done = _cli("tuner.search", "--space", space, "--name", "remote", "--storage", s3_uri, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    local = tmp_path / "runs" / "remote"
    df, meta = read_leaderboard(local)
    assert len(df) == 2 and set(df["status"]) == {"completed"} and meta["ended"]
    assert df["test_accuracy"].notna().any()  # the evaluation task fetched its checkpoint
    fs, root = open_uri(s3_uri)
    remote = f"{root}/remote"
    names = {i.path[len(remote) + 1 :] for i in fs.get_file_info(pafs.FileSelector(remote, recursive=True))}
    # The remote folder is a whole run: the driver's files, Tune's trial files, the checkpoints.
    assert {"leaderboard.parquet", "run.json", "search/tracked_trials.json"} <= names
    for _, row in df.iterrows():
        assert f"{row['trial_dir']}/result.json" in names
        assert f"{row['checkpoint_path']}/model.weights.h5" in names
        assert not (local / row["checkpoint_path"]).exists()  # not copied here unless needed
    # The report needs the best trial's confusion matrix: fetched into the local folder.
    assert _cli("tuner.report", local, cwd=tmp_path).returncode == 0
    best = df.iloc[0]
    assert (local / best["checkpoint_path"] / "confusion.npy").is_file()
    exported = _cli("tuner.export", local, "--out", tmp_path / "model", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "model" / "model.keras").is_file()


def test_an_existing_remote_run_is_not_overwritten(ray_address, s3_uri, tmp_path):
    from tuner._storage import open_uri

    fs, root = open_uri(s3_uri)
    with fs.open_output_stream(f"{root}/taken/run.json") as fh:
        fh.write(b"{}")
    env = {**os.environ, "RAY_ADDRESS": ray_address, "RAY_AUTH_MODE": "token"}
    space = write_space(tmp_path / "spaces", SPACE)
    done = _cli("tuner.search", "--space", space, "--name", "taken", "--storage", s3_uri, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 2 and "already exists" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "secret" not in done.stderr  # credentials never printed
