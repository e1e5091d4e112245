"""Data paths stay inside the data folders: no '..', no absolute escapes, no symlinks out."""

from __future__ import annotations

from pathlib import Path

import pytest

from rota.data.paths import resolve_data_path
from rota.model.errors import InvalidInputError


@pytest.fixture
def folders(tmp_path: Path) -> list[Path]:
    first, second = tmp_path / "in", tmp_path / "shared"
    first.mkdir()
    second.mkdir()
    return [first, second]


def refused(path: str, folders: list[Path], field: str = "source.path") -> str:
    with pytest.raises(InvalidInputError) as caught:
        resolve_data_path(path, folders, field)
    assert caught.value.field == field
    return caught.value.reason


def test_a_relative_path_is_found_in_the_first_folder_holding_it(folders: list[Path]) -> None:
    (folders[1] / "people.csv").write_text("id\n")
    assert resolve_data_path("people.csv", folders) == folders[1] / "people.csv"
    (folders[0] / "people.csv").write_text("id\n")
    assert resolve_data_path("people.csv", folders) == folders[0] / "people.csv"


def test_a_missing_file_resolves_into_the_first_folder(folders: list[Path]) -> None:
    assert resolve_data_path("exports/new.csv", folders) == folders[0] / "exports" / "new.csv"


def test_subfolders_and_dot_components_are_fine(folders: list[Path]) -> None:
    (folders[0] / "sub").mkdir()
    (folders[0] / "sub" / "a.csv").write_text("x\n")
    assert resolve_data_path("./sub/./a.csv", folders) == folders[0] / "sub" / "a.csv"


def test_an_absolute_path_inside_a_folder_is_allowed(folders: list[Path]) -> None:
    target = folders[1] / "b.csv"
    assert resolve_data_path(str(target), folders) == target


@pytest.mark.parametrize(
    "path", ["../x.csv", "sub/../../x.csv", "sub/..", "..", "..\\x.csv", "a/..\\..\\x.csv"]
)
def test_dot_dot_is_refused(folders: list[Path], path: str) -> None:
    assert "'..'" in refused(path, folders)


def test_dot_dot_is_refused_even_when_it_stays_inside(folders: list[Path]) -> None:
    (folders[0] / "sub").mkdir()
    refused("sub/../x.csv", folders)


def test_an_absolute_path_outside_every_folder_is_refused(
    folders: list[Path], tmp_path: Path
) -> None:
    (tmp_path / "secret.csv").write_text("x\n")
    assert "outside the data folders" in refused(str(tmp_path / "secret.csv"), folders)
    refused("/etc/passwd", folders)


def test_a_folder_name_prefix_is_not_inside(folders: list[Path]) -> None:
    sibling = folders[0].parent / (folders[0].name + "2")
    sibling.mkdir()
    refused(str(sibling / "x.csv"), folders)


def test_a_symlink_out_of_the_folders_is_refused(folders: list[Path], tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("x\n")
    (folders[0] / "link.csv").symlink_to(outside / "secret.csv")
    (folders[0] / "linkdir").symlink_to(outside, target_is_directory=True)
    assert "symlink" in refused("link.csv", folders)
    refused("linkdir/secret.csv", folders)
    refused(str(folders[0] / "link.csv"), folders)


def test_a_dangling_symlink_out_is_refused(folders: list[Path], tmp_path: Path) -> None:
    (folders[0] / "later.csv").symlink_to(tmp_path / "not-yet.csv")
    refused("later.csv", folders)


def test_a_symlink_between_data_folders_is_fine(folders: list[Path]) -> None:
    (folders[1] / "real.csv").write_text("x\n")
    (folders[0] / "alias.csv").symlink_to(folders[1] / "real.csv")
    assert resolve_data_path("alias.csv", folders) == folders[1] / "real.csv"


def test_a_folder_reached_through_a_symlink_works_both_ways(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "data"
    real.mkdir(parents=True)
    (real / "a.csv").write_text("x\n")
    (tmp_path / "data").symlink_to(real, target_is_directory=True)
    folders = [tmp_path / "data"]
    assert resolve_data_path("a.csv", folders) == real / "a.csv"
    assert resolve_data_path(str(tmp_path / "data" / "a.csv"), folders) == real / "a.csv"
    assert resolve_data_path(str(real / "a.csv"), folders) == real / "a.csv"


@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_path_is_refused(folders: list[Path], path: str) -> None:
    assert refused(path, folders, "target.path") == "is empty"


def test_a_nul_byte_is_refused(folders: list[Path]) -> None:
    assert "NUL" in refused("a\x00.csv", folders)


def test_no_folders_means_no_files(tmp_path: Path) -> None:
    assert "no data folders" in refused("a.csv", [])


def test_a_relative_folder_is_a_caller_bug(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be absolute"):
        resolve_data_path("a.csv", [Path("data")])
