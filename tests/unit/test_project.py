"""Loading a project folder: Python and YAML jobs under ``jobs/``, errors collected per file."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rota.jobs.project import PACKAGE, load_project
from rota.model.errors import NotFoundError
from rota.model.jobs import JobKind

MODULE_A = '''
    from datetime import date

    from rota import job

    TWICE = 2


    def helper(ctx, n: int) -> int:
        """Not a job: no @job."""
        return n * TWICE


    @job(id="a.first")
    def first(ctx, day: date) -> str:
        """The first job."""
        return day.isoformat()


    @job(id="a.second", timeout=60)
    def second(ctx, n: int = 1) -> int:
        return helper(ctx, n)
'''

YAML_B = """
    id: b.shell
    kind: shell
    command: [echo, hello]
"""


@pytest.fixture(autouse=True)
def forget_project_modules() -> Iterator[None]:
    """Each test imports its own project under the same private package name."""
    yield
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path, "jobs/a.py", MODULE_A)
    write(tmp_path, "jobs/sub/b.yaml", YAML_B)
    return tmp_path


def errors_by_source(root: Path) -> dict[str, list]:
    out: dict[str, list] = {}
    for error in load_project(root).errors:
        out.setdefault(error.source, []).append(error)
    return out


def test_it_loads_python_and_yaml_jobs(project: Path) -> None:
    loaded = load_project(project)
    assert loaded.errors == []
    assert sorted(loaded.definitions) == ["a.first", "a.second", "b.shell"]
    assert loaded.definitions["a.first"].kind is JobKind.PYTHON
    assert loaded.definitions["a.first"].description == "The first job."
    assert loaded.definitions["a.second"].timeout == 60
    assert loaded.definitions["b.shell"].kind is JobKind.SHELL
    assert loaded.root == project.resolve()


def test_it_records_each_source_relative_to_the_project(project: Path) -> None:
    loaded = load_project(project)
    assert {k: d.source for k, d in loaded.definitions.items()} == {
        "a.first": "jobs/a.py",
        "a.second": "jobs/a.py",
        "b.shell": "jobs/sub/b.yaml",
    }


def test_it_keeps_the_functions_of_python_jobs_callable(project: Path) -> None:
    loaded = load_project(project)
    assert sorted(loaded.functions) == ["a.first", "a.second"]
    assert loaded.function("a.second")(None, 21) == 42
    assert loaded.function("a.first").__module__ == f"{PACKAGE}.a"


def test_it_raises_not_found_for_a_function_it_does_not_have(project: Path) -> None:
    loaded = load_project(project)
    with pytest.raises(NotFoundError):
        loaded.function("b.shell")


def test_it_does_not_register_a_helper_without_job(project: Path) -> None:
    loaded = load_project(project)
    assert all("helper" not in d.spec.get("function", "") for d in loaded.definitions.values())
    assert len(loaded.definitions) == 3


def test_it_returns_an_empty_project_without_a_jobs_folder(tmp_path: Path) -> None:
    loaded = load_project(tmp_path)
    assert (loaded.definitions, loaded.functions, loaded.errors) == ({}, {}, [])


def test_it_collects_the_error_of_an_invalid_yaml_file_and_loads_the_others(
    project: Path,
) -> None:
    write(project, "jobs/bad.yaml", "id: bad\nkind: shell\ncomand: [echo]\n")
    loaded = load_project(project)
    assert sorted(loaded.definitions) == ["a.first", "a.second", "b.shell"]
    (error,) = loaded.errors
    assert (error.source, error.field) == ("jobs/bad.yaml", "comand")


def test_it_collects_an_exception_at_import_with_its_line(project: Path) -> None:
    write(project, "jobs/broken.py", "X = 1\n\nraise RuntimeError('no config')\n")
    loaded = load_project(project)
    assert sorted(loaded.definitions) == ["a.first", "a.second", "b.shell"]
    (error,) = loaded.errors
    assert (error.source, error.field) == ("jobs/broken.py", "line 3")
    assert error.reason == "RuntimeError: no config"
    assert f"{PACKAGE}.broken" not in sys.modules


def test_it_collects_a_syntax_error_with_its_line(project: Path) -> None:
    write(project, "jobs/broken.py", "from rota import job\n\ndef oops(:\n    pass\n")
    loaded = load_project(project)
    assert sorted(loaded.definitions) == ["a.first", "a.second", "b.shell"]
    (error,) = loaded.errors
    assert error.source == "jobs/broken.py"
    assert error.reason.startswith("SyntaxError")
    assert "line 3" in f"{error.field} {error.reason}"


def test_it_collects_an_invalid_job_declaration_naming_its_field(project: Path) -> None:
    write(
        project,
        "jobs/wrong.py",
        """
        from rota import job

        @job(id="wrong", params={"nope": {"description": "not an argument"}})
        def wrong(ctx, day: str) -> None:
            pass
        """,
    )
    loaded = load_project(project)
    (error,) = loaded.errors
    assert (error.source, error.field) == ("jobs/wrong.py", "params.nope")
    assert "wrong" not in loaded.definitions


def test_it_collects_every_bad_file(project: Path) -> None:
    write(project, "jobs/bad.yaml", "id: bad\nkind: python\n")
    write(project, "jobs/broken.py", "raise ValueError('boom')\n")
    write(project, "jobs/sub/worse.yml", "id: [unclosed\n")
    errors = errors_by_source(project)
    assert sorted(errors) == ["jobs/bad.yaml", "jobs/broken.py", "jobs/sub/worse.yml"]
    assert errors["jobs/sub/worse.yml"][0].field == "yaml"
    assert errors["jobs/bad.yaml"][0].field == "kind"


def test_it_reports_a_duplicate_job_id_naming_both_files(project: Path) -> None:
    write(project, "jobs/sub/dup.yaml", "id: a.first\nkind: shell\ncommand: [echo]\n")
    loaded = load_project(project)
    (error,) = loaded.errors
    assert (error.source, error.field) == ("jobs/sub/dup.yaml", "id")
    assert "jobs/a.py" in error.reason
    assert "'a.first'" in error.reason
    # The first definition wins, so its runs keep working.
    assert loaded.definitions["a.first"].source == "jobs/a.py"
    assert loaded.definitions["a.first"].kind is JobKind.PYTHON


def test_it_reports_a_duplicate_id_between_two_python_modules(project: Path) -> None:
    write(
        project,
        "jobs/z.py",
        "from rota import job\n\n@job(id='a.second')\ndef again(ctx) -> None:\n    pass\n",
    )
    loaded = load_project(project)
    (error,) = loaded.errors
    assert (error.source, error.field) == ("jobs/z.py", "id")
    assert "jobs/a.py" in error.reason
    assert loaded.function("a.second").__name__ == "second"


def test_it_registers_an_aliased_job_function_once(project: Path) -> None:
    write(project, "jobs/alias.py", MODULE_A.replace("a.", "alias.") + "\n    main = first\n")
    loaded = load_project(project)
    assert loaded.errors == []


def test_it_does_not_register_a_job_imported_from_another_module(project: Path) -> None:
    write(
        project,
        "jobs/importer.py",
        "from rota_project.a import first as reexported  # noqa: F401\n",
    )
    loaded = load_project(project)
    assert loaded.errors == []
    assert sorted(loaded.definitions) == ["a.first", "a.second", "b.shell"]


@pytest.mark.parametrize("folder", ["_private", ".hidden", "sub/_drafts", "__pycache__"])
def test_it_ignores_files_in_private_and_hidden_folders(project: Path, folder: str) -> None:
    write(project, f"jobs/{folder}/x.yaml", "id: x.yaml\nkind: shell\n")  # invalid on purpose
    write(project, f"jobs/{folder}/x.py", "raise RuntimeError('must not be imported')\n")
    loaded = load_project(project)
    assert loaded.errors == []
    assert sorted(loaded.definitions) == ["a.first", "a.second", "b.shell"]


def test_it_ignores_private_python_modules(project: Path) -> None:
    write(project, "jobs/_helpers.py", "raise RuntimeError('must not be imported')\n")
    write(project, "jobs/__init__.py", "raise RuntimeError('must not be imported')\n")
    assert load_project(project).errors == []


def test_it_ignores_files_that_are_neither_python_nor_yaml(project: Path) -> None:
    write(project, "jobs/README.md", "# not a job\n")
    write(project, "jobs/data.json", "{}\n")
    write(project, "jobs/script.sh", "echo hi\n")
    loaded = load_project(project)
    assert loaded.errors == []
    assert len(loaded.definitions) == 3


def test_it_ignores_files_outside_the_jobs_folder(project: Path) -> None:
    write(project, "other/x.yaml", "not: [valid\n")
    write(project, "x.py", "raise RuntimeError('must not be imported')\n")
    assert load_project(project).errors == []


def test_it_gives_python_jobs_a_code_hash_that_changes_with_the_file(project: Path) -> None:
    before = load_project(project).definitions
    assert before["a.first"].code_hash
    assert before["a.first"].code_hash == before["a.second"].code_hash
    assert before["b.shell"].code_hash == ""

    path = project / "jobs" / "a.py"
    path.write_text(path.read_text(encoding="utf-8") + "\n# a comment changes the code\n")
    after = load_project(project).definitions

    assert after["a.first"].code_hash != before["a.first"].code_hash
    assert after["a.first"].fingerprint != before["a.first"].fingerprint
    assert after["b.shell"].fingerprint == before["b.shell"].fingerprint


def test_it_keeps_the_code_hash_and_fingerprint_of_an_unchanged_project(project: Path) -> None:
    first = load_project(project).definitions
    second = load_project(project).definitions
    assert {k: d.fingerprint for k, d in first.items()} == {
        k: d.fingerprint for k, d in second.items()
    }


def test_it_imports_modules_under_a_private_package_name(project: Path) -> None:
    write(
        project, "jobs/sub/json.py", "from rota import job\n\n@job(id='j')\ndef j(ctx):\n    pass\n"
    )
    loaded = load_project(project)
    assert loaded.errors == []
    assert loaded.function("j").__module__ == f"{PACKAGE}.sub.json"
    import json

    assert hasattr(json, "dumps")  # the project module did not shadow the standard library
