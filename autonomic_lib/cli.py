"""`python -m autonomic_lib`: the kit's one command line (sandbox, demo; more subcommands as the kit grows).

Any error ends a command with one line on stderr, never a key: exit 2 for the kit's own errors (settings, an
unreachable backend, refused input), 1 for anything else; `-v` adds the traceback.

`lint` exits 0 when the assets have no error (warnings and notes are printed, and pass unless --strict), 1 when
any has one; `import` refuses to send anything (exit 1) on the same errors.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .errors import AutonomicError, ConfigError

if TYPE_CHECKING:
    from .assets import Problem

log = logging.getLogger("autonomic_lib")
KEY_VARS = ("DD_API_KEY", "DD_APP_KEY")
_KEY_SHAPES = {"DD_API_KEY": (re.compile(r"[0-9a-f]{32}"), "32 lower-case hex characters, like a Datadog API key"),
               "DD_APP_KEY": (re.compile(r"[0-9a-f]{40}"),
                              "40 lower-case hex characters, like a Datadog application key")}
_KEY_SHAPED = re.compile(r"\b[0-9a-fA-F]{32}(?:[0-9a-fA-F]{8})?\b")
ARGV_WARNING = ("warning: --api-key/--app-key are visible to every local user (ps, /proc/<pid>/cmdline); "
                "give the keys in DD_API_KEY/DD_APP_KEY or --key-file instead")


def _sandbox_keys(args: argparse.Namespace) -> dict[str, tuple[str, str]]:
    """{variable: (key, where it came from)} for the sandbox: --key-file, else --api-key/--app-key, else
    DD_API_KEY/DD_APP_KEY from the environment, else a fresh key. argv is readable by every local user, so
    --api-key/--app-key (kept for compatibility) warn."""
    from .sandbox.keys import generate_keys
    from .settings import read_key_file

    given: dict[str, tuple[str, str]] = {}  # {variable: (key, the name an error gives it)}
    if args.key_file is not None:
        if args.api_key is not None or args.app_key is not None:
            raise ConfigError("give the keys with --key-file or with --api-key/--app-key, not both")
        from_file = read_key_file(Path(args.key_file))
        given = {var: (key.reveal(), f"{var} in key file {args.key_file}") for var, key in zip(KEY_VARS, from_file)}
    else:
        if args.api_key is not None or args.app_key is not None:
            print(ARGV_WARNING, file=sys.stderr, flush=True)
        for var, flag, value in (("DD_API_KEY", "--api-key", args.api_key), ("DD_APP_KEY", "--app-key", args.app_key)):
            from_env = os.environ.get(var, "").strip()
            if value is not None or from_env:
                given[var] = (value, flag) if value is not None else (from_env, var)
    keys = dict(zip(KEY_VARS, ((key, "generated") for key in generate_keys())))
    for var, (key, name) in given.items():
        pattern, shape = _KEY_SHAPES[var]
        if not pattern.fullmatch(key):
            raise ConfigError(f"{name} must be {shape}")  # names where it came from, never the value
        keys[var] = (key, "from the key file" if args.key_file is not None else f"from {name}")
    return keys


def _seconds(text: str) -> int:
    """Whole seconds from 1 to 3600 (argparse names the option when this refuses)."""
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 3600:
        raise argparse.ArgumentTypeError("must be whole seconds from 1 to 3600")
    return int(text)


def _sandbox(args: argparse.Namespace) -> int:
    keys = _sandbox_keys(args)  # checked before the sandbox app is imported: a refusal comes at once
    from .sandbox.config import SandboxConfig
    from .sandbox.keys import mask
    from .sandbox.server import STATE_FILE, SandboxServer

    (api_key, api_source), (app_key, app_source) = keys["DD_API_KEY"], keys["DD_APP_KEY"]
    config = SandboxConfig(api_key=api_key, app_key=app_key, data_dir=Path(args.data_dir).resolve(),
                           late_data=tuple(args.late_data), memory_limit=args.memory_limit,
                           dogstatsd_port=args.dogstatsd_port, dogstatsd_interval=args.dogstatsd_interval)
    server = SandboxServer(config, port=args.port)
    state_file = Path(args.data_dir).resolve() / STATE_FILE
    print(f"Datadog sandbox listening on {server.url}  (data: {config.data_dir})", flush=True)
    print(f"  API key {mask(config.api_key)} ({api_source}), application key {mask(config.app_key)} ({app_source}); "
          f"full keys in {state_file} (mode 0600)", flush=True)
    print(f"  Point any datadog-api-client program at it with DD_HOST={server.url} and the keys above. "
          "Ctrl-C stops it.", flush=True)
    if server.dogstatsd is not None:
        print(f"  DogStatsD on udp://127.0.0.1:{server.dogstatsd.port} (DD_DOGSTATSD_PORT={server.dogstatsd.port}"
              " for Datadog's clients); counters at /sandbox/dogstatsd", flush=True)
    server.serve_forever()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(out_dir=Path(args.out), scenario=args.scenario, seed=args.seed)


def _reset(args: argparse.Namespace) -> int:
    from .sandbox_process import reset_state_folder

    folder = Path(args.data_dir)
    removed = reset_state_folder(folder)
    print(f"{folder}: {'removed (' + ', '.join(removed) + ')' if removed else 'nothing to remove'}; the next run "
          "starts a fresh sandbox", flush=True)
    return 0


def _sandbox_env(args: argparse.Namespace) -> int:
    from .backend import agent_env, running_sandbox

    settings = running_sandbox(Path(args.data_dir))
    if settings is None:
        raise ConfigError(f"no sandbox runs from {args.data_dir} (start one: python -m autonomic_lib sandbox "
                          f"--data-dir {args.data_dir} --dogstatsd-port 0)")
    env = agent_env(settings)
    for name, value in env.items():
        print(f"export {name}={value}")
    if "DD_DOGSTATSD_PORT" not in env:
        print("# this sandbox takes no DogStatsD: restart it with --dogstatsd-port 0", file=sys.stderr)
    return 0


def _print_problems(problems: Sequence[Problem]) -> tuple[int, int]:
    """Errors on stderr, warnings and notes on stdout; returns the numbers of errors and warnings."""
    for problem in problems:
        print(problem, file=sys.stderr if problem.severity == "error" else sys.stdout)
    return (sum(p.severity == "error" for p in problems), sum(p.severity == "warning" for p in problems))


def _lint(args: argparse.Namespace) -> int:
    from .assets import lint_assets

    _, problems = lint_assets([Path(p) for p in args.paths] or None)
    errors, warnings = _print_problems(problems)
    notes = len(problems) - errors - warnings
    print(f"{errors} error(s), {warnings} warning(s)" + (f", {notes} note(s)" if notes else "")
          if problems else "assets lint clean")
    return 1 if errors or (args.strict and warnings) else 0


def _import(args: argparse.Namespace) -> int:
    from datadog_api_client.exceptions import ApiException

    from .assets import format_table, import_assets, lint_assets
    from .backend import connect
    from .client import describe_api_error

    _, problems = lint_assets([Path(p) for p in args.paths] or None)  # refuse before connecting anywhere
    if _print_problems(problems)[0]:
        return 1
    with connect() as (settings, label):
        try:
            changes = import_assets(settings, [Path(p) for p in args.paths] or None, dry_run=args.dry_run,
                                    case_project=args.case_project)
        except ApiException as exc:  # a refusal is a failure (exit 1) with the backend's words, not a traceback
            print(f"error: import into {label} failed: {describe_api_error(exc, settings)}", file=sys.stderr)
            return 1
        print(f"{'Dry run against' if args.dry_run else 'Imported into'} {label}:")
        print(format_table(changes))
    return 0


def _export(args: argparse.Namespace) -> int:
    from datadog_api_client.exceptions import ApiException

    from .assets import export_assets
    from .backend import connect
    from .client import describe_api_error

    with connect() as (settings, label):
        try:
            written = export_assets(settings, Path(args.out) if args.out else None, form=args.format)
        except ApiException as exc:
            print(f"error: export from {label} failed: {describe_api_error(exc, settings)}", file=sys.stderr)
            return 1
    print(f"Exported {len(written)} asset(s) from {label} ({args.format} format):")
    for path in written:
        print(f"  {path}")
    return 0


def _traffic(args: argparse.Namespace) -> int:
    import pandas as pd
    from tqdm import tqdm

    from .backend import connect
    from .client import make_api_client
    from .swarm import get_scenario
    from .reconciliation import reconcile
    from .telemetry import Backfill, Live
    from .traffic import expected_messages, run_scenario

    scenario = get_scenario(args.scenario)
    expected = expected_messages(scenario)
    quiet = not sys.stderr.isatty()  # no cursor games in logs and CI output; the summary still prints
    bars = {name: tqdm(total=n, desc=f"{name:<22}", unit="msg", position=i, leave=True, dynamic_ncols=True,
                       disable=quiet)
            for i, (name, n) in enumerate(expected.items())}

    points_sent = dict.fromkeys(bars, 0)

    def progress(phase: str, messages: int, points: int) -> None:
        bar = bars[phase]
        bar.total = max(bar.total or 0, bar.n + messages)  # the expected count is a Poisson mean
        points_sent[phase] += points
        bar.set_postfix(points=f"{points_sent[phase]:,}", refresh=False)
        bar.update(messages)

    pacing = Backfill() if args.pacing == "backfill" else Live(history_max_age=3300 if args.no_late_data else None)
    with connect(Path(args.data_dir) if args.data_dir else None) as (settings, label):
        print(f"Sending scenario {scenario.name!r} (seed {args.seed}, {args.pacing}) to {label}", flush=True)
        with make_api_client(settings) as client:
            ledger = run_scenario(scenario, args.seed, api_client=client, pacing=pacing, progress=progress)
            for bar in bars.values():
                bar.close()
            table = ledger.summary().T.astype(object)
            for row in table.index:
                table.loc[row] = [f"{v:,.4g}" if "latency" in row or "cost" in row else f"{int(v):,}"
                                  for v in table.loc[row]]
            with pd.option_context("display.width", 200, "display.max_columns", 50):
                print("\nPer-phase summary (latency in s, cost in USD):")
                print(table.to_string())
            print(f"\n{ledger.points:,} points in {ledger.requests} requests, {ledger.log_count:,} logs and "
                  f"{len(ledger.events)} event(s) acknowledged.")
            for reason, count in ledger.skipped.items():
                print(f"Not sent, Datadog would refuse them: {count:,} {reason}")
            cardinality = ledger.cardinality()
            print(f"Custom-metric cardinality: {int(cardinality['series'].sum())} series over "
                  f"{len(cardinality)} metrics (max {int(cardinality['series'].max())} for "
                  f"{cardinality['series'].idxmax()})")
            if args.reconcile:
                result = reconcile(ledger, client)
                bad = result.table[~result.table["match"]]
                print(f"Reconciliation: {'everything agrees' if result.ok else f'{len(bad)} row(s) differ'} "
                      f"({len(result.table)} series/log groups/events compared)")
                if not result.ok:
                    print(bad.to_string())
                    return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autonomic_lib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbose_help = "on an error, show its traceback too; log debug details"
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    # The same flag after the command (`import -v`); SUPPRESS, so an absent one does not reset the global flag.
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[verbose], help=help)

    sb = add_command("sandbox", help="run the local Datadog-compatible sandbox in the foreground")
    sb.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free port)")
    sb.add_argument("--data-dir", default=".sandbox", help="folder for the durable store and sandbox.json "
                                                           "(created 0700; its files are 0600)")
    sb.add_argument("--key-file", metavar="PATH",
                    help="file holding DD_API_KEY=... and DD_APP_KEY=... lines, mode 0600 or stricter; without it "
                         "the keys come from DD_API_KEY/DD_APP_KEY in the environment, else are generated")
    sb.add_argument("--api-key", help="API key to accept (32 hex); visible to other local users in the process "
                                      "list: prefer DD_API_KEY or --key-file")
    sb.add_argument("--app-key", help="application key to accept (40 hex); visible to other local users in the "
                                      "process list: prefer DD_APP_KEY or --key-file")
    sb.add_argument("--late-data", action="append", default=[], metavar="GLOB",
                    help="enable historical ingestion (points older than 1 h) for metrics matching GLOB, "
                         "as Datadog's per-metric Late Data setting; repeatable, e.g. --late-data 'autonomic.*'")
    sb.add_argument("--memory-limit", default="256MB", help="DuckDB memory limit (default 256MB)")
    sb.add_argument("--dogstatsd-port", type=int, default=None, metavar="N",
                    help="also take DogStatsD datagrams on UDP 127.0.0.1:N (0: a free port, published in "
                         "sandbox.json), aggregated in 10 s buckets like the Datadog Agent (default: off)")
    sb.add_argument("--dogstatsd-interval", type=_seconds, default=10, metavar="S",
                    help="seconds per DogStatsD bucket (default 10, the Agent's); shorter only to wait less in tests")
    sb.set_defaults(run=_sandbox)

    env = add_command("sandbox-env", help="print the environment lines that aim ddtrace and DogStatsD at the running "
                                          "sandbox as at a local Agent (no key): eval \"$(... sandbox-env)\"")
    env.add_argument("--data-dir", default=".sandbox", help="the running sandbox's state folder (default: .sandbox)")
    env.set_defaults(run=_sandbox_env)

    demo = add_command("demo", help="run the demo on the sandbox (or Datadog when keys are set) and write reports")
    demo.add_argument("--out", default="reports", help="folder for the rendered reports (default: reports)")
    demo.add_argument("--scenario", default="seed-demo", help="traffic scenario (default: seed-demo)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    demo.set_defaults(run=_demo)

    reset = add_command("reset", help="stop the sandbox of a state folder and delete the folder (a fresh start)")
    reset.add_argument("--data-dir", default=".sandbox", help="the state folder (default: .sandbox); only a "
                                                              "folder the kit wrote is deleted")
    reset.set_defaults(run=_reset)

    paths_help = ("asset files or folders (walked for *.json), in the kit's layout or as Datadog exports them "
                  "(default: the kit's own, assets/dashboards, monitors, workflows)")
    lint = add_command("lint", help="check the dashboard, monitors and workflow, or the given files and folders; "
                                    "exit 1 on any error")
    lint.add_argument("paths", nargs="*", help=paths_help)
    lint.add_argument("--strict", action="store_true", help="exit 1 on warnings too (e.g. metrics outside the "
                                                            "catalogue in a foreign asset)")
    lint.set_defaults(run=_lint)

    imp = add_command("import", help="create or update the assets in the backend (sandbox without keys)")
    imp.add_argument("paths", nargs="*", help=paths_help)
    imp.add_argument("--dry-run", action="store_true", help="show the differences with the backend; send nothing")
    imp.add_argument("--case-project", metavar="UUID", help="Case Management project the workflow opens cases in")
    imp.set_defaults(run=_import)

    exp = add_command("export", help="write the managed assets the backend holds back to files")
    exp.add_argument("--out", help="folder to write dashboards/, monitors/, workflows/ into (default: assets)")
    exp.add_argument("--format", choices=("kit", "datadog"), default="kit",
                     help="kit: monitors as integrations-core templates (default); datadog: the bodies Datadog's "
                          "API and import take (dashboards and workflow requests are the same in both)")
    exp.set_defaults(run=_export)
    tr = add_command("traffic", help="simulate a scenario's swarm traffic and send it (sandbox without keys)")
    tr.add_argument("--scenario", default="seed-demo", help="built-in scenario name or a .yaml/.json file "
                                                             "(default: seed-demo)")
    tr.add_argument("--seed", type=int, default=7, help="random seed (default: 7); same seed -> same ledger")
    tr.add_argument("--pacing", choices=("backfill", "live"), default="backfill",
                    help="backfill: the timeline ends now, sent at once; live: history backfilled, incident "
                         "phases sent in real time")
    tr.add_argument("--data-dir", help="sandbox folder: use the sandbox running there, or start one keeping its "
                                       "data there (default: .sandbox if running, else a temporary sandbox)")
    tr.add_argument("--no-late-data", action="store_true",
                    help="live pacing on real Datadog without Late Data: send only the last 55 min of history")
    tr.add_argument("--reconcile", action="store_true", help="read everything back and check nothing was lost")
    tr.set_defaults(run=_traffic)
    return parser


def scrub(text: str) -> str:
    """`text` without the keys: the environment's, and anything shaped like a Datadog key (32 or 40 hex)."""
    for var in KEY_VARS:
        value = os.environ.get(var, "").strip()
        if len(value) >= 4:
            text = text.replace(value, "****")
    return _KEY_SHAPED.sub("****", text)


def _one_line(exc: BaseException, *, verbose: bool) -> str:
    """The error as one line: the kit's own message, an HTTP status and body, or the exception's type and text."""
    from datadog_api_client.exceptions import ApiException

    if isinstance(exc, AutonomicError):
        return str(exc)  # written for the user; a multi-line one (a sandbox's log tail) is meant so
    if isinstance(exc, ApiException):  # str() would add the response headers
        text = f"the backend answered HTTP {exc.status} {exc.reason or ''}" + (f": {exc.body}" if exc.body else "")
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    text = text[:300] + "…" if len(text) > 300 else text
    return text if verbose else f"{text} (run with -v for the traceback)"


def report_error(exc: BaseException, *, verbose: bool) -> int:
    """Print an error that ended a command (one line; with `verbose` the traceback first) and return the exit code."""
    if verbose:
        print(scrub("".join(traceback.format_exception(exc))), end="", file=sys.stderr)
    print(f"error: {scrub(_one_line(exc, verbose=verbose))}", file=sys.stderr, flush=True)
    return 2 if isinstance(exc, AutonomicError) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the command line's boundary: one line, not a traceback
        return report_error(exc, verbose=args.verbose)
