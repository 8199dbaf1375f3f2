"""The store on a real PostgreSQL server: row-lock claims, concurrent opening, migration, Optuna."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from blockbench.components.policy import Policy
from blockbench.plugin.registry import Entry
from blockbench.search.compare import make_policy
from blockbench.store.run_store import Store
from tests.factories import make_run, make_spec
from tests.postgres_server import postgres_database
from tests.store.test_store_migration import check_v1_store_migrates

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def server_db():
    with postgres_database() as url:
        yield url


def test_opening_concurrently_creates_the_schema_once(server_db):
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            Store(server_db).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def test_run_claims_and_records(server_db):
    spec = make_spec("block:7", seed=42)
    with Store(server_db) as first, Store(server_db) as second:
        assert first.claim_run(spec).state == "claimed"
        assert second.claim_run(spec).state == "busy"
        first.finish_run(make_run(spec, 0.8, 0.7))
        assert second.claim_run(spec).record.val_acc == 0.8


def test_four_claimers_at_once_train_each_run_once(server_db):
    specs = [make_spec(f"block:{i}", seed=7) for i in range(30)]
    claimed: list[str] = []
    lock = threading.Lock()

    def work(store: Store) -> None:
        for spec in specs:
            if store.claim_run(spec).state == "claimed":
                with lock:
                    claimed.append(spec.run_hash)
                store.finish_run(make_run(spec, 0.5, 0.5))

    stores = [Store(server_db) for _ in range(4)]  # four claimers, as four processes would be
    threads = [threading.Thread(target=work, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for store in stores:
        store.close()
    assert sorted(claimed) == sorted(s.run_hash for s in specs)


def test_a_v1_store_with_the_job_queue_opens_and_keeps_its_runs(caplog):
    with postgres_database() as url:
        check_v1_store_migrates(url, caplog)


def test_optuna_studies_live_in_the_same_database(server_db):
    import optuna

    class Stored(Policy):
        option_defaults = {"storage": None}

        def search(self, *args: Any) -> Any:
            raise NotImplementedError

    with Store(server_db) as store:
        policy = make_policy(Entry("stored", Stored, "", (), "tests"), {}, store.url)
        storage = policy.options["storage"]
        optuna.create_study(storage=storage, study_name="blockbench-tpe-test")
        store.add(make_run(make_spec("bl1", seed=9), 0.5, 0.5))
    names = [s.study_name for s in optuna.get_all_study_summaries(storage=storage)]
    assert "blockbench-tpe-test" in names
