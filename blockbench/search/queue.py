"""Detached studies: a queue of jobs in the store that any number of workers share.

``compare --detach`` stores the study's definition (tasks, policies, seeds)
and queues one *run job* per run known in advance (the baselines, and every
target of an exhaustive policy) and one *search job* per (task, seed,
policy). The study keeps the Keras backend it was queued under: run identities
include it, so only workers on that backend may work it. ``blockbench worker`` claims jobs atomically (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, the write lock on SQLite), run jobs first. An
adaptive policy (Optuna TPE, successive halving...) decides its next run from
the previous ones, so its search job runs the policy in the worker holding
it; runs stay claimed one by one in the runs table, so two searches (or a run
job and a search) never train the same run twice. A job whose worker died is
taken over once its heartbeat is stale.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from blockbench.components.policy import Budget, SearchSpace
from blockbench.core.backends import DEFAULT_BACKEND
from blockbench.core.errors import UnknownNameError, UsageError
from blockbench.core.spec import canonical_json
from blockbench.core.task import SplitConfig, Task
from blockbench.search.compare import PolicyRequest
from blockbench.store.run_store import Store
from blockbench.store.schema import jobs, studies

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
RUN_JOB, SEARCH_JOB = "run", "search"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


@dataclass
class StudyDefinition:
    """What a detached study searches, enough for a worker to rebuild each problem.

    Attributes:
        tasks: what to search.
        policies: the policies, with their options and budgets.
        seeds: the training seeds.
        retries: extra attempts for a failed run.
        backend: the Keras backend the study trains on (its workers must run it).
    """

    tasks: list[Task]
    policies: list[PolicyRequest]
    seeds: list[int]
    retries: int = 1
    backend: str = DEFAULT_BACKEND

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "tasks": [dataclasses.asdict(t) for t in self.tasks],
            "policies": [{"name": p.name, "options": dict(p.options),
                          "budget": {"runs": p.budget.runs, "epochs": p.budget.epochs}}
                         for p in self.policies],
            "seeds": list(self.seeds), "retries": self.retries,
        }
        if self.backend != DEFAULT_BACKEND:  # TensorFlow studies keep their stored text and names
            data["backend"] = self.backend
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudyDefinition:
        tasks = []
        for raw in data["tasks"]:
            split = dict(raw["split"])
            split["fractions"] = tuple(split["fractions"])
            tasks.append(Task(**{**raw, "split": SplitConfig(**split)}))
        policies = [PolicyRequest(p["name"], p["options"], Budget(**p["budget"]))
                    for p in data["policies"]]
        return cls(tasks, policies, list(data["seeds"]), int(data["retries"]),
                   str(data.get("backend", DEFAULT_BACKEND)))

    def default_name(self) -> str:
        """A name derived from the definition, so the same detach twice is one study."""
        import hashlib

        return "study-" + hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Job:
    """One claimed unit of work."""

    id: int
    kind: str
    payload: dict[str, Any]


@dataclass
class QueueSummary:
    """What a detach queued."""

    study: str
    runs: int = 0
    searches: int = 0
    cached: int = 0


def check_study_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"study name {name!r} is not valid; use letters, digits, '.', '_' "
                         "and '-' (at most 100), starting with a letter or digit")
    return name


def planned_targets(request: PolicyRequest, policy_name: str, space: SearchSpace) -> list[str]:
    """The targets a policy will surely evaluate, known before it runs (queued as run jobs)."""
    if policy_name != "exhaustive":
        return []  # adaptive: its search job decides, run by run
    targets = space.targets()
    return targets[: request.budget.runs] if request.budget.runs is not None else targets


class WorkQueue:
    """Studies and their jobs in one store.

    Args:
        store: the store holding the queue (its workers' heartbeats make claims stand).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def create_study(self, name: str, definition: StudyDefinition) -> None:
        """Record a study; the same definition again is fine, another one under its name is not."""
        text = canonical_json(definition.to_dict())
        with self.store.db.transaction() as conn:
            row = conn.execute(select(studies.c.definition).where(studies.c.study == name)).first()
            if row is None:
                conn.execute(studies.insert().values(study=name, definition=text,
                                                     created_at=time.time()))
            elif row.definition != text:
                raise UsageError(f"study {name!r} already exists in {self.store.display} with "
                                 "other settings; choose another --study name")

    def definition(self, name: str) -> StudyDefinition:
        with self.store.db.transaction() as conn:
            row = conn.execute(select(studies.c.definition).where(studies.c.study == name)).first()
            if row is None:
                known = [r.study for r in conn.execute(select(studies.c.study)).all()]
                raise UnknownNameError("study", name, known)
        return StudyDefinition.from_dict(json.loads(row.definition))

    def enqueue(self, study: str, kind: str, key: str, payload: Mapping[str, Any]) -> bool:
        """Queue a job unless the study already has one with this key; True if queued now."""
        with self.store.db.transaction() as conn:
            exists = conn.execute(select(jobs.c.id).where(
                and_(jobs.c.study == study, jobs.c.job_key == key))).first()
            if exists is None:
                conn.execute(jobs.insert().values(
                    study=study, job_key=key, priority=0 if kind == RUN_JOB else 1,
                    payload=json.dumps({"kind": kind, **payload}), status=QUEUED,
                    updated_at=time.time()))
            return exists is None

    def claim(self, study: str) -> Job | None:
        """Take the next queued job (or one whose worker died), or None if there is none."""
        workers = self.store.workers
        me = workers.register()
        with self.store.db.transaction() as conn:
            workers.reap_dead_local(conn)
            # Liveness is judged inside the claiming statement, whose snapshot may predate a
            # worker's registration: a claim younger than stale_after stands unless its worker
            # is known dead.
            abandoned = or_(jobs.c.worker.in_(workers.dead()),
                            and_(jobs.c.worker.not_in(workers.live()),
                                 jobs.c.updated_at < time.time() - workers.stale_after))
            free = or_(jobs.c.status == QUEUED, and_(jobs.c.status == RUNNING, abandoned))
            row = conn.execute(
                select(jobs.c.id, jobs.c.payload).where(and_(jobs.c.study == study, free))
                .order_by(jobs.c.priority, jobs.c.id).limit(1)
                .with_for_update(skip_locked=True)).first()
            if row is None:
                return None
            conn.execute(jobs.update().where(jobs.c.id == row.id)
                         .values(status=RUNNING, worker=me, updated_at=time.time()))
        payload = json.loads(row.payload)
        return Job(row.id, payload.pop("kind"), payload)

    def finish(self, job: Job, status: str = DONE, error: str | None = None) -> None:
        self._set(job, status=status, error=error, worker=None)

    def release(self, job: Job) -> None:
        """Put a claimed job back in the queue (its worker is stopping)."""
        self._set(job, status=QUEUED, worker=None)

    def _set(self, job: Job, **values: Any) -> None:
        with self.store.db.transaction() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job.id)
                         .values(updated_at=time.time(), **values))

    def counts(self, study: str) -> dict[str, int]:
        """Jobs of the study by status."""
        with self.store.db.transaction() as conn:
            return self._counts(conn, study)

    @staticmethod
    def _counts(conn: Connection, study: str) -> dict[str, int]:
        rows = conn.execute(select(jobs.c.status, func.count()).where(jobs.c.study == study)
                            .group_by(jobs.c.status)).all()
        return {status: int(n) for status, n in rows}

    def failures(self, study: str) -> list[tuple[str, str]]:
        """(job key, error) of every failed job of the study."""
        with self.store.db.transaction() as conn:
            rows = conn.execute(select(jobs.c.job_key, jobs.c.error).where(
                and_(jobs.c.study == study, jobs.c.status == FAILED))).all()
        return [(r.job_key, r.error or "") for r in rows]


def queue_study(queue: WorkQueue, name: str, definition: StudyDefinition,
                spaces: Sequence[tuple[Any, ...]], canonical: Mapping[str, str]) -> QueueSummary:
    """Queue a study's jobs.

    Args:
        queue: the work queue.
        name: the study name.
        definition: what to search.
        spaces: per task, ``(space, spec)`` where ``spec(target, seed)`` is the run identity.
        canonical: registered name of each requested policy (aliases resolved).
    """
    queue.create_study(name, definition)
    summary = QueueSummary(name)
    for index, (space, spec) in enumerate(spaces):
        for seed in definition.seeds:
            targets = ["bl1", "bl2"]
            for request in definition.policies:
                targets += planned_targets(request, canonical[request.name], space)
            for target in dict.fromkeys(targets):
                run_hash = spec(target, seed).run_hash
                if queue.store.get(run_hash) is not None:
                    summary.cached += 1
                elif queue.enqueue(name, RUN_JOB, f"run:{run_hash}",
                                   {"task": index, "seed": seed, "target": target}):
                    summary.runs += 1
            for number, _ in enumerate(definition.policies):
                if queue.enqueue(name, SEARCH_JOB, f"search:{index}:{seed}:{number}",
                                 {"task": index, "seed": seed, "policy": number}):
                    summary.searches += 1
    return summary
