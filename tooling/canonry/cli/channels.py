"""Commands for serving versions safely: channel (set, list), canary report, impact."""

from __future__ import annotations

import click

from ..publication import channels
from ..report.channels import render_canary, render_channel_list, render_channel_set, render_impact
from ..report.outcome import channels_verdict, exit_code, impact_verdict
from .common import emit, emit_json, open_repo, repo_option, say

OUTPUT = click.Choice(["text", "json"])


@click.group("channel")
def channel_group() -> None:
    """Named channels (stable, canary, ...) pointing at published versions.

    \b
    Example:
      canonry channel set mapping canary v2 --by mapping-steward@example.org --reason "try v2"
      canonry channel list mapping
    """


@channel_group.command("set")
@repo_option
@click.argument("library")
@click.argument("channel")
@click.argument("version")
@click.option("--by", "by", required=True, help="The steward who decides (e-mail, an allowed signer).")
@click.option("--key", "key", default=None, type=click.Path(dir_okay=False), help="SSH private key to sign.")
@click.option("--reason", required=True, help="Why: kept in the channel's signed audit log.")
@click.option("--main", "main", default="main", show_default=True, help="Whose rules and keys apply.")
@click.option(
    "--push", "push", metavar="REMOTE", default=None, help="Push the move there (fast-forward only)."
)
@click.option("--format", "fmt", type=OUTPUT, default="text", show_default=True)
def channel_set_cmd(
    repo_path: str | None,
    library: str,
    channel: str,
    version: str,
    by: str,
    key: str | None,
    reason: str,
    main: str,
    push: str | None,
    fmt: str,
) -> None:
    """Point CHANNEL of LIBRARY at a published VERSION: a steward's signed decision.

    The move is signed with SSH (`--key`, else git's user.signingkey) in the
    namespace canonry-channel and verified against the allowed-signers file
    the policy names on main; it is refused for a deprecated or unknown
    version and for anyone but the library's stewards. No tag moves.

    \b
    Example:
      canonry channel set mapping stable v3 --by mapping-steward@example.org \\
          --key ~/.ssh/id_ed25519 --reason "canary held for a week" --push origin
    """
    repo = open_repo(repo_path)
    record, moved = channels.set_channel(repo, library, channel, version, by, reason, key=key, main=main)
    if push:
        channels.push_channel(repo, library, channel, push)
    if fmt == "json":
        emit_json({"format": "canonry.channel-set/v1", "moved": moved, **record.to_dict()})
        return
    emit(render_channel_set(library, channel, record.tag, record.by, record.record, moved))


@channel_group.command("list")
@repo_option
@click.argument("library")
@click.option("--main", "main", default="main", show_default=True, help="Whose rules and keys apply.")
@click.option("--history", "show_history", is_flag=True, help="Every move of every channel, newest first.")
@click.option("--format", "fmt", type=OUTPUT, default="text", show_default=True)
def channel_list_cmd(repo_path: str | None, library: str, main: str, show_history: bool, fmt: str) -> None:
    """The channels of LIBRARY, where each points, who moved it and whether the move verifies.

    \b
    Example:
      canonry channel list mapping
      canonry channel list mapping --history --format json
    """
    repo = open_repo(repo_path, allow_shallow=True)
    doc = channels.channels_report(repo, library, main=main)
    if fmt == "json":
        emit_json(doc)
        return
    emit(render_channel_list(doc, show_history))
    code = exit_code(channels_verdict(doc))
    if code:
        say("canonry: some channel moves do not verify; consumers will refuse them")
        raise SystemExit(code)


# --- canary --------------------------------------------------------------------------------------


@click.group("canary")
def canary_group() -> None:
    """Canary and shadow routing: compare a candidate version's outcomes with the control's.

    \b
    Example:
      canonry canary report --outcomes outcomes.jsonl --min-samples 200
    """


@canary_group.command("report")
@click.option("--outcomes", "outcomes", required=True, type=click.Path(dir_okay=False), help="JSON Lines.")
@click.option("--min-samples", default=100, show_default=True, type=int, help="Outcomes needed per side.")
@click.option(
    "--max-degradation",
    default=0.0,
    show_default=True,
    type=float,
    help="How much worse may the candidate be.",
)
@click.option("--confidence", default=0.95, show_default=True, type=float, help="Of the intervals.")
@click.option("--lower-is-better", is_flag=True, help="A lower metric is better (latency, error).")
@click.option("--format", "fmt", type=OUTPUT, default="text", show_default=True)
def canary_report_cmd(
    outcomes: str,
    min_samples: int,
    max_degradation: float,
    confidence: float,
    lower_is_better: bool,
    fmt: str,
) -> None:
    """Compare candidate and control outcomes; recommend promote, continue or rollback.

    Pass/fail outcomes (`ok`) get a two-proportion z-test, a metric Welch's
    t-test, each with the delta (candidate minus control), its interval and
    an exact p-value. Promote: every interval lies above -MAX_DEGRADATION;
    rollback: one lies wholly below it; continue otherwise, and whenever a
    side has fewer than --min-samples outcomes. Promotion is `canonry channel
    set`, never automatic.

    \b
    Example:
      canonry canary report --outcomes outcomes.jsonl --max-degradation 0.01 --format json
    """
    from ..runtime.canary import canary_report, read_outcomes

    doc = canary_report(
        read_outcomes(outcomes),
        min_samples=min_samples,
        max_degradation=max_degradation,
        confidence=confidence,
        lower_is_better=lower_is_better,
    )
    if fmt == "json":
        emit_json(doc)
        return
    emit(render_canary(doc))


# --- impact --------------------------------------------------------------------------------------


@click.command("impact")
@repo_option
@click.argument("records", nargs=-1, required=True, type=click.Path())
@click.option(
    "--to",
    "to",
    multiple=True,
    required=True,
    help="LIB@VERSION, LIB@CHANNEL, or a channel (or latest) for every library (repeatable).",
)
@click.option("--format", "fmt", type=OUTPUT, default="text", show_default=True)
def impact_cmd(repo_path: str | None, records: tuple[str, ...], to: tuple[str, ...], fmt: str) -> None:
    """Which past runs a new version affects: the entries they read that changed since.

    RECORDS are run records (canonry.run/v1, written from `canon.snapshot(reads=True)`)
    or folders of them. For each run it lists the entries it read that changed
    (with the field changes), were removed or were added since, whether the
    version it read is deprecated, and the commits that made each change.
    Exit 1 when any run is affected, 0 when none is.

    \b
    Example:
      canonry impact runs/ --to mapping@v3
      canonry impact run-42.json --to stable --format json
    """
    from ..runtime.impact import impact

    repo = open_repo(repo_path, allow_shallow=True)
    doc = impact(repo, records, to)
    if fmt == "json":
        emit_json(doc)
    else:
        emit(render_impact(doc))
    raise SystemExit(exit_code(impact_verdict(doc)))


def register(group: click.Group) -> None:
    for command in (channel_group, canary_group, impact_cmd):
        group.add_command(command)
