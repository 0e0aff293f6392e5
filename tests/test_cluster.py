"""The parallel runner (zerolib.study.cluster) on a LocalCluster of 2 workers on loopback:
the quick profile gives what the serial runner gives, a worker killed mid-task costs
nothing finished, and two tasks racing for one cache entry train it once."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed", reason="the parallel runner needs zerolib[cluster]")
import cloudpickle  # noqa: E402  (comes with distributed)

from zerolib.study import cluster
from zerolib.study import runner as study  # noqa: E402
from zerolib.experiments.common.cache import ModelCache  # noqa: E402
from zerolib.experiments.common.summary import seed_list  # noqa: E402

# the workers cannot import this test module: ship its functions by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client():
    """2 worker processes, 1 thread each, on loopback (no dashboard)."""
    c = cluster.make_client(workers=2, dashboard=False)
    yield c
    made = c.cluster
    c.close()
    made.close()


# ----------------------------------------------------------------------------- small pieces

def test_seed_list_keeps_the_base_seed_and_checks_the_subset():
    assert seed_list(3, 3) == [3, 4, 5]
    assert seed_list(3, 3, [5]) == [5]
    assert seed_list(0, 3, [2, 0]) == [0, 2]
    with pytest.raises(ValueError, match=r"run_seeds \[7\] are not among the seeds \[0, 1\]"):
        seed_list(0, 2, [7])
    with pytest.raises(ValueError, match="n_seeds must be at least 1"):
        seed_list(0, 0)


def test_seeds_flag_replaces_every_notebooks_seeds_and_must_be_consecutive():
    profile = study.Profile("p", defaults={"seed": 0, "n_seeds": 2},
                            notebooks={"a": {"n_seeds": 5, "eps": 0.1}, "b": {"seed": 9}})
    got = profile.with_seeds([4, 5, 6])
    assert got.defaults == {"seed": 4, "n_seeds": 3} and got.notebooks == {"a": {"eps": 0.1}, "b": {}}
    with pytest.raises(study.StudyError, match="consecutive"):
        profile.with_seeds([0, 2])


def test_threads_split_each_hosts_cores_over_its_task_slots():
    facts = {"w1": {"host": "a", "cores": 8, "nthreads": 1, "gpus": 0},
             "w2": {"host": "a", "cores": 8, "nthreads": 1, "gpus": 0},
             "w3": {"host": "b", "cores": 2, "nthreads": 4, "gpus": 0}}
    assert cluster._threads_per_host(facts) == {"a": 4, "b": 1}


def test_gpu_slot_from_worker_names():
    assert cluster.gpu_slot(1) == 1 and cluster.gpu_slot("0") == 0
    assert cluster.gpu_slot("SLURMCluster-3-1") == 1
    assert cluster.gpu_slot("tcp://10.0.0.1:4000") is None and cluster.gpu_slot("worker") is None


def test_plan_gives_a_seed_task_per_seed_and_skips_finished_notebooks(tmp_path):
    profile = study.Profile.load(ROOT / "params", "quick")
    todo = dict(cluster.plan(profile, ROOT, ["blackbox", "toy_outliers"], False, tmp_path))
    assert todo == {"blackbox": [[0], [1]], "toy_outliers": []}  # the toy has one seed
    assert dict(cluster.plan(profile.with_seeds([3, 4, 5]), ROOT, ["blackbox"], False, tmp_path)) == \
        {"blackbox": [[3], [4], [5]]}


def test_a_slurm_section_becomes_a_job_script_with_one_gpu_worker_per_gpu():
    pytest.importorskip("dask_jobqueue")
    made, jobs = cluster.job_queue_cluster("slurm", {
        "jobs": 3, "gpus_per_job": 2, "cores": 4, "memory": "8GB", "walltime": "01:00:00", "queue": "gpu",
        "job_extra_directives": ["--gres=gpu:2"]})
    try:
        script = made.job_script()
    finally:
        made.close()
    assert jobs == 3
    assert "#SBATCH --gres=gpu:2" in script and "#SBATCH -p gpu" in script and "#SBATCH -t 01:00:00" in script
    assert "--nworkers 2" in script and "--nthreads 2" in script and "--resources GPU=1" in script


def test_bad_cluster_sections_are_named():
    with pytest.raises(study.StudyError, match="needs a cluster: section"):
        cluster.job_queue_cluster("slurm", {})
    with pytest.raises(study.StudyError, match="unknown cluster 'condor'"):
        cluster.job_queue_cluster("condor", {"cores": 1})
    with pytest.raises(study.StudyError, match="processes .3. must equal gpus_per_job .2."):
        cluster.job_queue_cluster("slurm", {"gpus_per_job": 2, "processes": 3, "cores": 4, "memory": "8GB"})
    with pytest.raises(study.StudyError, match="cluster: section for slurm"):
        cluster.job_queue_cluster("slurm", {"cores": 4, "memory": "8GB", "no_such_setting": 1})


# ----------------------------------------------------------------------------- a toy project

COUNTED = """\
from pathlib import Path
Path(output_dir).mkdir(parents=True, exist_ok=True)
with open(log, "a") as f:
    f.write(f"{name} {globals().get('run_seeds')}\\n")
(Path(output_dir) / "value.csv").write_text(f"seed,n\\n{seed},{n_seeds}\\n")
"""

KILLER = COUNTED + """\
import os, signal, time
marker = Path(log).with_name("killed-once")
if not marker.exists():
    marker.write_text("x")
    os.kill(os.getppid(), signal.SIGKILL)   # the kernel's parent is the worker process
    time.sleep(30)
"""


def make_notebook(path: Path, body: str, name: str, log: Path, seeds: bool) -> None:
    nb = nbformat.v4.new_notebook()
    parameters = f'seed: int = 0\nn_seeds: int = 1\nname: str = "{name}"\nlog: str = "{log}"\noutput_dir: str = "out"\n'
    parameters += "run_seeds: list = []\n" if seeds else ""
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def toy_project(tmp_path: Path, killer: bool) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    log = tmp_path / "log.txt"
    make_notebook(tmp_path / "notebooks" / "first.ipynb", COUNTED, "first", log, seeds=True)
    make_notebook(tmp_path / "notebooks" / "second.ipynb", KILLER if killer else COUNTED, "second", log, seeds=False)
    (tmp_path / "params" / "toy.yaml").write_text("defaults: {seed: 0, n_seeds: 2}\n")
    return tmp_path


def test_a_killed_worker_is_replaced_and_the_run_completes_with_nothing_lost(tmp_path, client):
    root = toy_project(tmp_path, killer=True)
    profile = study.Profile.load(root / "params", "toy")
    outcomes = cluster.run_parallel(profile, root, client=client)
    assert [(o.notebook, o.status) for o in outcomes] == [("first", "ok"), ("second", "ok")]
    assert (root / "killed-once").exists(), "the worker was never killed: the test tested nothing"
    runs = (root / "log.txt").read_text().splitlines()
    assert sorted(runs) == ["first [0]", "first [1]", "first []", "second None", "second None"]
    for name in ("first", "second"):
        record = json.loads((root / "outputs" / "toy" / name / "run.json").read_text())
        assert record["status"] == "ok" and record["files"] == ["value.csv"]
    assert not (root / "outputs" / "toy" / ".seeds").exists()  # the per-seed folders are gone
    # a rerun finds everything done: nothing runs again
    again = cluster.run_parallel(profile, root, client=client)
    assert [o.status for o in again] == ["skipped", "skipped"]
    assert (root / "log.txt").read_text().splitlines() == runs
    # and the killed-and-replaced cluster still has its 2 workers
    client.wait_for_workers(2, timeout=60)


# ----------------------------------------------------------------------------- the cache under a race

def fit_through_cache(root: str, start_at: float):
    """Wait until ``start_at``, then fit one SCD01 model through the cache."""
    from zerolib.data import load_dataset
    from zerolib.models.scd import SCD01Classifier

    d = load_dataset("digits", classes=[0, 1], flatten=True, seed=0)
    cache = ModelCache(root)
    time.sleep(max(0.0, start_at - time.time()))
    began = time.time()
    model = cache.fit(SCD01Classifier(n_iter=400, n_votes=4, random_state=0, device="cpu"),
                      {"dataset": "digits", "classes": [0, 1]}, d.x_train, d.y_train)
    return {"misses": cache.misses, "hits": cache.hits, "began": began, "ended": time.time(),
            "pid": os.getpid(), "w": model.predict(d.x_test).tolist()}


def test_two_tasks_racing_for_one_cache_entry_train_it_once(tmp_path, client):
    start_at = time.time() + 3.0
    futures = client.map(fit_through_cache, [str(tmp_path)] * 2, [start_at] * 2, pure=False)
    a, b = client.gather(futures)
    if a["pid"] == b["pid"]:
        pytest.skip("both tasks ran in one worker (one had died?): no race to test")
    first, second = sorted([a, b], key=lambda r: r["misses"], reverse=True)
    assert abs(a["began"] - b["began"]) < 1.0, "the tasks did not start together"
    assert (first["misses"], first["hits"]) == (1, 0) and (second["misses"], second["hits"]) == (0, 1)
    assert second["ended"] >= first["ended"] - 0.5   # the second waited for the first one's fit
    assert a["w"] == b["w"]
    entries = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and (entries[0] / "COMPLETE").is_file()


# ----------------------------------------------------------------------------- the quick profile

TIMINGS = {"clean_accuracy/table2.csv", "clean_accuracy/table2_per_seed.csv"}   # Table II: measured seconds


def tables(profile_dir: Path) -> dict[str, pd.DataFrame]:
    """Every CSV table of a profile's outputs but the measured seconds."""
    found = {str(p.relative_to(profile_dir)): p for p in sorted(profile_dir.glob("*/*.csv"))}
    return {name: pd.read_csv(p) for name, p in found.items() if name not in TIMINGS}


@pytest.mark.slow
def test_parallel_quick_profile_gives_the_serial_results(quick_study: Path, tmp_path, monkeypatch):
    """The quick profile (2 seeds) run in parallel, from an empty model cache, against the
    serial smoke run: every table equal (timings aside), every notebook ok. The kernels get
    the serial run's thread count (the numbers depend on it; see zerolib.study.cluster)."""
    from conftest import QUICK_STUDY_THREADS

    monkeypatch.setenv("ZEROLIB_MODELS", str(tmp_path / "models"))   # the workers start with it
    c = cluster.make_client(workers=2, dashboard=False)
    try:
        outcomes = cluster.run_parallel(study.Profile.load(ROOT / "params", "quick"), ROOT,
                                        output_root=tmp_path / "outputs", client=c, threads=QUICK_STUDY_THREADS)
    finally:
        made = c.cluster
        c.close()
        made.close()
    assert all(o.status == "ok" for o in outcomes), [(o.notebook, o.error) for o in outcomes if o.status != "ok"]
    parallel, serial = tables(tmp_path / "outputs" / "quick"), tables(quick_study)
    assert sorted(parallel) == sorted(serial) and len(serial) > 20
    for name in serial:
        pd.testing.assert_frame_equal(parallel[name], serial[name], check_exact=True, obj=name)
    assert any((tmp_path / "models").iterdir()), "the workers did not use the fresh cache"
