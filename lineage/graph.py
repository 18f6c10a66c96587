"""Walking the lineage graph with recursive CTEs (``WITH RECURSIVE``, SQLite and PostgreSQL).

The graph is bipartite: runs read dataset versions (``lineage_runinput``)
and write them (``lineage_runoutput``). Upstream of a run means its inputs,
the runs that wrote those inputs, their inputs, and so on; downstream of a
version means the runs that read it, the versions they wrote, their readers...

Each walk is bounded (``depth`` counts run hops; ``MAX_DEPTH`` caps it), uses
``UNION`` so a node reached twice at the same depth is expanded once, and
reads the edge tables through their ``(run, dataset_version)`` and
``(dataset_version, run)`` indexes. ``as_of`` ignores edges recorded after
that moment, which answers "what did the graph look like when this was
approved?".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from lineage.models import DatasetVersion, Run, RunInput, RunOutput

MAX_DEPTH = 50
DEFAULT_DEPTH = 20

_RI = RunInput._meta.db_table
_RO = RunOutput._meta.db_table


def _bounded(depth: int | None) -> int:
    if depth is None:
        return MAX_DEPTH
    return max(1, min(int(depth), MAX_DEPTH))


def _id_list(ids: Iterable[int]) -> list[int]:
    return sorted({int(i) for i in ids})


def _placeholders(ids: list[int]) -> str:
    return ", ".join(["%s"] * len(ids))


def _as_of(alias: str, as_of: datetime | None) -> tuple[str, list]:
    if as_of is None:
        return "", []
    return f" AND {alias}.created_at <= %s", [as_of]


def upstream_version_ids(
    run_ids: Iterable[int], *, depth: int | None = None, as_of: datetime | None = None
) -> dict[int, int]:
    """``{dataset version id: hops}`` upstream of the runs (by ``Run.pk``)."""
    runs = _id_list(run_ids)
    if not runs:
        return {}
    limit = _bounded(depth)
    seed_filter, seed_params = _as_of("ri", as_of)
    ro_filter, ro_params = _as_of("ro", as_of)
    ri_filter, ri_params = _as_of("ri", as_of)
    # Table names are module constants; every value goes in as a parameter.
    sql = f"""
        WITH RECURSIVE up(dv_id, hops) AS (
            SELECT ri.dataset_version_id, 1 FROM {_RI} ri
            WHERE ri.run_id IN ({_placeholders(runs)}){seed_filter}
            UNION
            SELECT ri.dataset_version_id, up.hops + 1
            FROM up
            JOIN {_RO} ro ON ro.dataset_version_id = up.dv_id{ro_filter}
            JOIN {_RI} ri ON ri.run_id = ro.run_id{ri_filter}
            WHERE up.hops < %s
        )
        SELECT dv_id, MIN(hops) FROM up GROUP BY dv_id
    """  # noqa: S608
    params = [*runs, *seed_params, *ro_params, *ri_params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def upstream_versions(
    run_ids: Iterable[int], as_of: datetime | None = None, *, depth: int | None = None
) -> list[DatasetVersion]:
    """Every dataset version the runs (``Run.pk``) were built from, transitively.

    The registry uses it for "what data trained this model version?".
    """
    ids = upstream_version_ids(run_ids, depth=depth, as_of=as_of)
    return list(
        DatasetVersion.objects.filter(pk__in=ids.keys())
        .select_related("dataset__namespace", "producing_run")
        .order_by("dataset__namespace__name", "dataset__name", "-created_at")
    )


def downstream_run_hops(
    dataset_version_ids: Iterable[int], *, depth: int | None = None, as_of: datetime | None = None
) -> dict[int, int]:
    """``{run id: hops}`` downstream of the versions: their readers, what those wrote, ..."""
    versions = _id_list(dataset_version_ids)
    if not versions:
        return {}
    limit = _bounded(depth)
    seed_filter, seed_params = _as_of("ri", as_of)
    ro_filter, ro_params = _as_of("ro", as_of)
    ri_filter, ri_params = _as_of("ri", as_of)
    # Table names are module constants; every value goes in as a parameter.
    sql = f"""
        WITH RECURSIVE down(run_id, hops) AS (
            SELECT ri.run_id, 1 FROM {_RI} ri
            WHERE ri.dataset_version_id IN ({_placeholders(versions)}){seed_filter}
            UNION
            SELECT ri.run_id, down.hops + 1
            FROM down
            JOIN {_RO} ro ON ro.run_id = down.run_id{ro_filter}
            JOIN {_RI} ri ON ri.dataset_version_id = ro.dataset_version_id{ri_filter}
            WHERE down.hops < %s
        )
        SELECT run_id, MIN(hops) FROM down GROUP BY run_id
    """  # noqa: S608
    params = [*versions, *seed_params, *ro_params, *ri_params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def downstream_run_ids(
    dataset_version_ids: Iterable[int], as_of: datetime | None = None, *, depth: int | None = None
) -> set[int]:
    """Ids (``Run.pk``) of every run built, directly or not, on these dataset versions.

    The registry uses it for "which model versions are affected by this revoked dataset?".
    """
    return set(downstream_run_hops(dataset_version_ids, depth=depth, as_of=as_of))


def runs_by_pk(run_ids: Iterable[int]) -> list[Run]:
    return list(Run.objects.filter(pk__in=list(run_ids)).select_related("job__namespace"))
