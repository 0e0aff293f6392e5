"""Run a profile's notebooks as Dask tasks: on a LocalCluster of this machine, on a
running scheduler, or on a job-queue cluster (Slurm, PBS, SGE, LSF via dask-jobqueue).

    python -m zerolib.study run --profile quick --workers 2
    python -m zerolib.study run --profile mnist --scheduler tcp://10.0.0.5:8786
    python -m zerolib.study run --profile mnist --cluster slurm   # the profile's cluster: section

Dask is an optional extra: ``pip install 'zerolib[cluster]'``.

The units. A notebook turns the per-seed results of its seeds into means, spreads and
claim verdicts, and its data subsample follows the base seed, so a notebook's outputs
are only final once all its seeds are in. The heavy part of each seed, though, is
independent of the others and is kept in the model cache (trained models, substitute
attacks round by round, attack grids, audits). So a notebook with ``n_seeds`` seeds is
``n_seeds`` *seed tasks* -- the notebook run with ``run_seeds=[s]`` into
``outputs/<profile>/.seeds/``, filling the cache for seed ``s`` -- and one *notebook
task* that depends on them: the very notebook the serial runner executes, with all
its seeds, which reads what the seed tasks cached and writes the published outputs.
The numbers are therefore those of the serial run (the same code computes them from
the same cache entries); the per-seed folders are removed once the notebook task is done.
A notebook opts into seed tasks by declaring the parameter ``run_seeds``. One without it
is a single notebook task: the toy (one seed), ``whitebox_transfer`` (it caches nothing
per seed, so a seed task would be done twice) and ``cnn_comparison`` (its class pair is
chosen over all seeds, so one seed alone would attack another pair).

The numbers depend on the torch thread count of the kernels (reductions split
differently; SCD and training then take other paths), as they do between machines with
other core counts. The run records say the threads; at equal threads (``--threads``)
the parallel and the serial runner give identical files.

Resources. When the profile's device is not ``cpu`` and the workers have GPUs, each
task asks for the worker resource ``GPU=1`` (so one notebook runs per GPU) and a
LocalCluster pins worker ``i`` to GPU ``i``. On the CPU each worker's kernels get
``OMP_NUM_THREADS = cores of the host // task slots on the host`` (or ``--threads``), so
the workers do not oversubscribe the cores.

Safety. The model cache locks each entry while it is trained (see :mod:`zerolib.experiments.common.cache`):
two tasks needing one model train it once. A task whose worker dies is rescheduled by
Dask (``distributed.scheduler.allowed-failures``, default 3); what it had finished is in
the cache and in the atomically written outputs, so the retry only does the rest.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from pathlib import Path
from typing import Any

from .runner import (SEED_TASKS, STAGING, Outcome, Profile, StudyError, chosen_notebooks, declared_parameters,
                           is_complete, notebook_run, outcome_line, run_notebook, seed_task_name,
                           set_kernel_threads)

__all__ = ["JOB_QUEUES", "make_client", "job_queue_cluster", "plan", "run_parallel", "run_task"]

JOB_QUEUES = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster"}
OWN_CLUSTER_KEYS = ("jobs", "gpus_per_job")   # the cluster: keys zerolib reads; the rest go to dask-jobqueue


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise StudyError(f"the parallel runner needs {module!r}: pip install 'zerolib[cluster]' ({err})") from err


# ----------------------------------------------------------------------------- the cluster

def make_client(workers: int | None = None, scheduler: str | None = None, cluster: str | None = None,
                settings: dict[str, Any] | None = None, gpus: int = 0, dashboard: bool = True):
    """A ``distributed.Client``: on a running ``scheduler``, on a dask-jobqueue ``cluster``
    started from ``settings`` (a profile's ``cluster:`` section), or on a LocalCluster of
    ``workers`` processes with one thread each (default: one per GPU, else one per 2 cores),
    its dashboard on a free port (printed by :func:`run_parallel` unless ``dashboard`` is False).
    The caller closes it (``client.close()``, then ``client.cluster.close()`` if it made one)."""
    distributed = _require("distributed")
    if scheduler:
        return distributed.Client(scheduler)
    if cluster:
        return _job_queue_client(cluster, dict(settings or {}))
    if workers is None:
        workers = gpus or max(1, (os.cpu_count() or 1) // 2)
    if int(workers) < 1:
        raise StudyError(f"--workers must be at least 1, got {workers}")
    kwargs: dict[str, Any] = {"n_workers": int(workers), "threads_per_worker": 1, "processes": True}
    if gpus:
        kwargs["resources"] = {"GPU": 1}
    kwargs["dashboard_address"] = ":0"   # a free port: two clusters never clash
    client = distributed.Client(distributed.LocalCluster(**kwargs))
    client.show_dashboard = bool(dashboard)
    return client


def _has_bokeh() -> bool:
    try:
        import bokeh  # noqa: F401  (the dashboard needs it)
    except ImportError:
        return False
    return True


def _job_queue_client(kind: str, settings: dict[str, Any]):
    made, jobs = job_queue_cluster(kind, settings)
    made.scale(jobs=jobs)
    return _require("distributed").Client(made)


def job_queue_cluster(kind: str, settings: dict[str, Any]):
    """(the dask-jobqueue cluster for ``kind``, the number of jobs to start) from a
    profile's ``cluster:`` section: ``jobs`` (default 1) and ``gpus_per_job`` are ours,
    every other key is the cluster class's own. With ``gpus_per_job`` each job runs one
    worker process per GPU, each with the resource ``GPU=1``. No job is submitted yet."""
    jobqueue = _require("dask_jobqueue")
    if kind not in JOB_QUEUES:
        raise StudyError(f"unknown cluster {kind!r}; known: {sorted(JOB_QUEUES)}")
    settings = dict(settings)
    if not settings:
        raise StudyError(f"--cluster {kind} needs a cluster: section in the profile (cores, memory, walltime, ...)")
    jobs, gpus = int(settings.pop("jobs", 1)), int(settings.pop("gpus_per_job", 0))
    if jobs < 1:
        raise StudyError(f"cluster: jobs must be at least 1, got {jobs}")
    if gpus:
        settings.setdefault("processes", gpus)
        if int(settings["processes"]) != gpus:
            raise StudyError(f"cluster: processes ({settings['processes']}) must equal gpus_per_job ({gpus}): "
                             "one worker per GPU")
        settings["worker_extra_args"] = list(settings.get("worker_extra_args") or []) + ["--resources", "GPU=1"]
    try:
        return getattr(jobqueue, JOB_QUEUES[kind])(**settings), jobs
    except (TypeError, ValueError) as err:
        raise StudyError(f"cluster: section for {kind}: {err}") from err


def _usable_cores() -> int:
    """The cores this process may use (its CPU affinity: a Slurm allocation, not the node)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _worker_facts(dask_worker) -> dict[str, Any]:
    return {"host": socket.gethostname(), "cores": _usable_cores(), "nthreads": dask_worker.state.nthreads,
            "gpus": float(dask_worker.state.total_resources.get("GPU", 0))}


def _threads_per_host(facts: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Torch threads for the kernels of each host: its cores over the task slots (worker
    threads) of all the workers on it, at least 1."""
    slots: dict[str, int] = {}
    cores: dict[str, int] = {}
    for f in facts.values():
        slots[f["host"]] = slots.get(f["host"], 0) + int(f["nthreads"])
        cores[f["host"]] = max(cores.get(f["host"], 1), int(f["cores"]))
    return {h: max(1, cores[h] // slots[h]) for h in slots}


# ----------------------------------------------------------------------------- the tasks

def run_task(notebook_path: str, profile: Profile, output_root: str, root: str, force: bool,
             run_seeds: list[int] | None, threads: dict[str, int], pin_gpu: bool, *after) -> tuple[Outcome, str]:
    """One task, in a worker: set the kernel's threads (and GPU), run the notebook.
    ``after`` are the outcomes of the tasks this one waits for (unused: the cache holds
    what they did). Returns the outcome and the worker's name."""
    from distributed import get_worker

    worker = get_worker()
    # a worker that joined after the start (a queued job) takes its own share
    own_share = max(1, _usable_cores() // max(1, worker.state.nthreads))
    set_kernel_threads(threads.get(socket.gethostname(), threads.get("*", own_share)))
    slot = gpu_slot(worker.name)
    if pin_gpu and slot is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot)
    outcome = run_notebook(Path(notebook_path), profile, Path(output_root), Path(root), force,
                           run_seeds=run_seeds, progress=False)
    return outcome, str(worker.name)


def gpu_slot(worker_name) -> int | None:
    """The GPU a LocalCluster worker owns: its index (worker names 0, 1, ...); a job-queue
    worker ``Name-<job>-<k>`` owns GPU ``k`` of its job. None when the name says neither."""
    text = str(worker_name)
    if text.isdigit():
        return int(text)
    last = text.rsplit("-", 1)[-1]
    return int(last) if "-" in text and last.isdigit() else None


def plan(profile: Profile, root: Path, notebooks: list[str] | None, force: bool,
         output_root: Path) -> list[tuple[str, list[list[int]]]]:
    """(notebook, the seed tasks it waits for) for every notebook still to run: a
    notebook with a finished run of the same fingerprint is left out (as the serial
    runner skips it); one that declares ``run_seeds`` and runs several seeds gets a
    seed task per seed."""
    notebooks_dir = root / "notebooks"
    out = []
    for name in chosen_notebooks(profile, notebooks_dir, notebooks):
        path = notebooks_dir / f"{name}.ipynb"
        result_dir, executed, params, expected = notebook_run(path, profile, output_root)
        if not force and is_complete(result_dir / "run.json", executed, expected):
            out.append((name, []))
            continue
        seeds: list[list[int]] = []
        if "run_seeds" in declared_parameters(path) and int(params.get("n_seeds", 1)) > 1:
            base = int(params.get("seed", 0))
            seeds = [[base + i] for i in range(int(params["n_seeds"]))]
        out.append((name, seeds))
    return out


def run_parallel(profile: Profile, root: Path, notebooks: list[str] | None = None, force: bool = False,
                 output_root: Path | None = None, *, workers: int | None = None, scheduler: str | None = None,
                 cluster: str | None = None, client=None, threads: int | None = None) -> list[Outcome]:
    """Run the chosen notebooks of ``profile`` as Dask tasks (see the module docstring)
    and return the notebook tasks' outcomes, as :func:`zerolib.study.runner.run_study` does.
    ``client``: an existing ``distributed.Client`` to use (left open). ``threads``: the
    torch threads of every kernel (default: each host's cores over its task slots)."""
    from tqdm.auto import tqdm

    _require("distributed")
    from distributed import as_completed

    output_root = (output_root or root / "outputs").resolve()
    device = str(profile.defaults.get("device", "auto"))
    todo = plan(profile, root, notebooks, force, output_root)
    own = client is None
    if own:
        import torch

        gpus = 0
        if device != "cpu" and not (scheduler or cluster):
            gpus = torch.cuda.device_count()
        elif device != "cpu" and cluster:
            gpus = int(profile.cluster.get("gpus_per_job", 0))
        client = make_client(workers, scheduler, cluster, profile.cluster, gpus=gpus)
    try:
        if cluster:
            client.wait_for_workers(1)
        facts = client.run(_worker_facts)   # worker address -> host, cores, threads, GPUs
        gpu = device != "cpu" and any(f["gpus"] >= 1 for f in facts.values())
        if device.startswith("cuda") and not gpu:
            raise StudyError(f"profile {profile.name!r} asks for device {device!r}, but no worker has a GPU "
                             "resource (start workers with --resources GPU=1)")
        if getattr(client, "show_dashboard", True) and client.dashboard_link and _has_bokeh():
            print(f"Dask dashboard: {client.dashboard_link}")
        per_host = _threads_per_host(facts)
        if threads is not None:
            per_host = {h: int(threads) for h in [*per_host, "*"]}   # "*": a host that joins later
        pin = gpu and own and not (scheduler or cluster)
        resources = {"GPU": 1} if gpu else None
        common = (profile, str(output_root), str(root), force)
        run_id = uuid.uuid4().hex[:8]   # task keys unique on a scheduler that other runs share
        futures = {}
        for name, seed_tasks in todo:
            path = str(root / "notebooks" / f"{name}.ipynb")
            waits = []
            for run_seeds in seed_tasks:
                f = client.submit(run_task, path, *common, run_seeds, per_host, pin,
                                  key=f"seed-{profile.name}-{name}-{run_seeds[0]}-{run_id}",
                                  resources=resources, retries=1, pure=False)
                futures[f] = ("seed", name)
                waits.append(f)
            f = client.submit(run_task, path, *common, None, per_host, pin, *waits,
                              key=f"notebook-{profile.name}-{name}-{run_id}",
                              resources=resources, retries=1, pure=False, priority=1)
            futures[f] = ("notebook", name)
        outcomes: dict[str, Outcome] = {}
        bar = tqdm(total=len(futures), desc=f"study {profile.name} on {len(facts)} workers", unit="task")
        for f in as_completed(list(futures)):
            kind, name = futures[f]
            try:
                outcome, where = f.result()
            except Exception as exc:  # the task itself raised (its retries used up)
                outcome, where = Outcome(name if kind == "notebook" else f"{name}[seed task]", "failed",
                                         error=f"{type(exc).__name__}: {exc}"), ""
            bar.update(1)
            bar.write(outcome_line(outcome, where))
            if kind == "notebook":
                outcomes[name] = outcome
                if outcome.status in ("ok", "skipped"):
                    remove_seed_tasks(output_root / profile.name, name)
        bar.close()
        return [outcomes[name] for name, _ in todo]
    finally:
        if own:
            made = getattr(client, "cluster", None)
            client.close()
            if made is not None:
                made.close()


def remove_seed_tasks(profile_dir: Path, notebook: str) -> None:
    """Delete a notebook's per-seed task folders (their results live on in the cache)."""
    seeds_dir = profile_dir / SEED_TASKS
    for where in (seeds_dir / STAGING, seeds_dir):  # any task a killed worker left staged, then finished ones
        for folder in where.glob(f"{seed_task_name(notebook, [])}*"):
            shutil.rmtree(folder, ignore_errors=True)
        if where.is_dir() and not any(where.iterdir()):
            where.rmdir()
