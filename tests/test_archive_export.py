"""The record export reads its rows in short transactions and puts in the bag exactly the
bytes it hashed (one pass), falling back to the backup copy when the archive's is bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamd.archive import export, service
from streamd.config import Settings
from streamd.store import Database
from tests.test_archive_audit import FILES, SESSION, _at, _flip, arch, filled  # noqa: F401  (fixtures)

pytestmark = pytest.mark.db


async def test_an_export_in_batches_copies_what_it_hashed_and_falls_back_to_the_backup(
    filled: int,  # noqa: F811
    arch: Settings,  # noqa: F811
    database: Database,
    tmp_path: Path,
) -> None:
    assert arch.archive_dir is not None
    roots = service.Roots(arch.archive_dir, arch.archive_backup_dir)
    _flip(_at(arch.archive_dir, filled, "video/v000_00001.ts"))
    out = tmp_path / "bag"
    done = export.export(
        database, roots=roots, hearing_id=filled, out=out, zone=arch.zone, actor="t", batch=2
    )
    assert done.files == len(FILES)
    for path, data in FILES.items():
        assert (out / "data" / SESSION / path).read_bytes() == data, path
    assert export.verify(out) == []

    _flip(_at(arch.archive_backup_dir, filled, "video/v000_00001.ts"))
    again = tmp_path / "bag2"
    with pytest.raises(export.ExportError, match=r"v000_00001\.ts"):
        export.export(
            database, roots=roots, hearing_id=filled, out=again, zone=arch.zone, actor="t"
        )
    assert not again.exists(), "nothing partial left"
