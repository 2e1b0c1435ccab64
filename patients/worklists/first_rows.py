"""Many lists' first rows and full counts, in a number of queries that does not grow.

A page of worklists shows, for each list, its first rows and how many it holds in all. Asked list
by list, that is two queries a list (the rows, then a count), and more for each clinic a
coordinator works for. Here every list is a part of one statement instead: each part numbers its
rows in the list's own order (``ROW_NUMBER``) and counts them (``COUNT(*) OVER ()``), the parts
are joined with ``UNION ALL``, and only the first rows' keys come back, each with its list's count.
One more query per kind of row then loads the rows themselves with what their lines show.

Numbering every row sorts and keeps them all. A list whose order an index gives (``Part.index_ordered``)
is instead counted in a part of its own, and its first rows are numbered by a part that stops after
them (``LIMIT``): a few steps along the index. A list only counted has only its count part.

So a page costs one query for all its lists plus one per kind of row, whatever the number of
lists, clinics or patients. The lists stay plain querysets, in their homes
(``patients.worklists.queries``), where the digest counts them too.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connections
from django.db.models import Count, QuerySet, Window
from django.db.models.functions import RowNumber

# Loads the rows of one kind by their keys, with the joins and annotations their lines read.
Loader = Callable[[Iterable[Any]], QuerySet[Any]]
# How the caller names its lists.
Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Part:
    """One list: its rows in order, and how rows of its kind are loaded.

    Parts whose ``loader_key`` is equal share one loading query: give equal keys only to loaders
    that load the same kind of row with the same annotations.
    """

    rows: QuerySet[Any]
    loader_key: Hashable
    loader: Loader
    # Rows to show, if not the page's number: 0 for a list the page only counts.
    shown: int | None = None
    # True when an index gives the list's order, so that its first rows are a few steps along it:
    # the list is then counted apart and its first rows taken with LIMIT. Leave it False where the
    # rows must be sorted: counted apart, such a list would be read twice.
    index_ordered: bool = False


def _order(rows: QuerySet[Any]) -> list[Any]:
    return list(rows.query.order_by) or ["pk"]


def numbered_sql(rows: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    """The SQL of ``rows`` as (key, position, count), positions in the list's own order."""
    numbered = (
        rows.order_by()
        .annotate(worklist_position=Window(RowNumber(), order_by=_order(rows)), worklist_count=Window(Count("pk")))
        .values_list("pk", "worklist_position", "worklist_count")
    )
    sql, params = numbered.query.get_compiler(using=rows.db).as_sql()
    return sql, tuple(params)


def first_sql(rows: QuerySet[Any], limit: int) -> tuple[str, tuple[Any, ...]]:
    """The SQL of ``rows``' first ``limit`` rows as (key, position), positions in the list's order."""
    first = rows.order_by(*_order(rows)).annotate(worklist_position=Window(RowNumber(), order_by=_order(rows)))
    sql, params = first.values_list("pk", "worklist_position")[:limit].query.get_compiler(using=rows.db).as_sql()
    return sql, tuple(params)


def count_sql(rows: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    """The SQL of ``rows``' keys, unordered, to count."""
    sql, params = rows.order_by().values("pk").query.get_compiler(using=rows.db).as_sql()
    return sql, tuple(params)


def part_sql(part: Part, *, shown: int, index: int = 0) -> list[tuple[str, tuple[Any, ...]]]:
    """The parts of the statement that find one list's first ``shown`` rows and its count, each as
    (SQL, parameters); every part gives (part, key, position, count).

    The only text spliced in is the SQL Django compiled for the list, its values still parameters;
    the part's index and the rows kept are parameters too.
    """
    rows = part.rows
    label = "SELECT CAST(%s AS integer) AS part, "
    if not shown or part.index_ordered:
        sql, params = count_sql(rows)
        # Every column typed as the other parts' are, for PostgreSQL's UNION.
        nothing = "CAST(NULL AS bigint)"
        found = [(f"{label}{nothing}, {nothing}, COUNT(*) FROM ({sql}) counted", (index, *params))]
        if shown:
            sql, params = first_sql(rows, shown)
            found.append((f"{label}firstrows.*, {nothing} FROM ({sql}) firstrows", (index, *params)))
        return found
    sql, params = numbered_sql(rows)
    return [
        (
            f"{label}numbered.* FROM ({sql}) numbered WHERE numbered.worklist_position <= %s",
            (index, *params, shown),
        )
    ]


def first_rows(parts: Mapping[Key, Part], *, shown: int) -> dict[Key, tuple[list[Any], int]]:
    """Each part's first ``shown`` rows, loaded, and its full count, keyed as ``parts`` is.

    All parts must read one database. A list with no rows has no line in the result of the
    statement: its count is 0.
    """
    keys = list(parts)
    if not keys:
        return {}
    limits = [shown if (limit := parts[key].shown) is None else limit for key in keys]
    statements: list[str] = []
    params: list[Any] = []
    for index, key in enumerate(keys):
        for sql, part_params in part_sql(parts[key], shown=limits[index], index=index):
            statements.append(sql)
            params.extend(part_params)
    found: dict[int, list[tuple[Any, int]]] = defaultdict(list)
    counts: dict[int, int] = {}
    with connections[parts[keys[0]].rows.db].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(statements), params)
        for index, pk, position, count in cursor.fetchall():
            if count is not None:
                counts[index] = count
            # A part that stops after the first rows keeps them all: among rows the order ties,
            # their numbers may run past the limit.
            if pk is not None and (count is None or position <= limits[index]):
                found[index].append((pk, position))
    loaded = _load({index: [pk for pk, _ in found[index]] for index in found}, [parts[key] for key in keys])
    result = {}
    for index, key in enumerate(keys):
        in_order = sorted(found.get(index, []), key=lambda pk_position: pk_position[1])
        rows = [loaded[(parts[key].loader_key, pk)] for pk, _ in in_order]
        result[key] = (rows, counts.get(index, 0))
    return result


def _load(pks_by_part: dict[int, list[Any]], parts: list[Part]) -> dict[tuple[Hashable, Any], Any]:
    """Every row to show, one query per loader: keyed by (loader key, row key)."""
    wanted: dict[Hashable, set[Any]] = defaultdict(set)
    loaders: dict[Hashable, Loader] = {}
    for index, pks in pks_by_part.items():
        wanted[parts[index].loader_key].update(pks)
        loaders[parts[index].loader_key] = parts[index].loader
    return {(loader_key, row.pk): row for loader_key, pks in wanted.items() for row in loaders[loader_key](pks)}
