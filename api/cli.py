"""The `ledger` command: serve, project, token, demo, post, rebuild, sisa, iv3, export, import, erase-client, verify.

The database is `--db URL` or LEDGER_DB (default sqlite:///./ledger.db).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
from aiohttp import web

from ledger.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    try:
        settings = Settings.from_env()
    except ValueError as e:  # a setting that cannot be read: say which, without a traceback
        raise SystemExit(f"ledger: {e}") from None
    return settings.override(
        db=args.db,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        workers=getattr(args, "workers", None),
    )


def _serve_one(settings: Settings, reuse_port: bool) -> None:
    from api import logs
    from api.app import create_app
    from ledger import runtime

    logs.configure()
    if reuse_port:  # a worker of `ledger serve --workers N`: it never outlives its supervisor
        supervisor = os.getppid()

        def exit_with_supervisor() -> None:
            while os.getppid() == supervisor:
                time.sleep(1.0)
            logging.getLogger("ledger.serve").warning("supervisor %s is gone; worker %s stops", supervisor, os.getpid())
            os.kill(os.getpid(), signal.SIGTERM)  # aiohttp's graceful exit

        threading.Thread(target=exit_with_supervisor, name="supervisor-watch", daemon=True).start()
    app = create_app(settings)

    async def settle(_app: web.Application) -> None:
        runtime.settle_server()  # after the lifecycle has loaded the ledger (api/app.py)

    app.on_startup.append(settle)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        reuse_port=reuse_port,
        access_log_class=logs.AccessLogger,
        print=None if reuse_port else print,
    )


def _check_port(host: str, port: int) -> None:
    """Refuse in one line a port another process holds, before anything is loaded."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds: TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as e:
            raise Refused(f"cannot serve on {host}:{port}: {e.strerror} (another process serves there? "
                          "--port or LEDGER_PORT picks another)") from None


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the API; with `--workers N` (N > 1) this process supervises N workers that
    share the port (SO_REUSEPORT): a worker that dies (a crash, `kill -9`) is logged and
    replaced, at once, or after a growing pause if it keeps dying right after starting;
    SIGTERM or SIGINT stops every worker (SIGKILL after 10 s) and then the supervisor."""
    from multiprocessing.connection import wait

    settings = _settings(args)
    if args.external_projector:
        settings = settings.override(projector="external")
    _check_port(settings.host, settings.port)
    if settings.workers <= 1:
        _serve_one(settings, reuse_port=False)
        return 0
    from api import logs

    logs.configure()
    log = logging.getLogger("ledger.serve")
    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            log.info("%s: stopping %d workers", signal.Signals(signum).name, settings.workers)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    context = multiprocessing.get_context("spawn")
    workers: list[Any] = [None] * settings.workers
    started = [0.0] * settings.workers
    due = [0.0] * settings.workers  # when an empty slot gets its (re)started worker
    pause = [0.0] * settings.workers  # the slot's pause before a restart, grown while it crash-loops
    quick_death = 10.0  # seconds: a worker dying sooner than this after starting is crash-looping

    def start(slot: int) -> None:
        worker = context.Process(target=_serve_one, args=(settings, True), name=f"ledger-worker-{slot}")
        worker.start()
        workers[slot], started[slot] = worker, time.monotonic()

    for slot in range(settings.workers):
        start(slot)
    print(f"serving on http://{settings.host}:{settings.port} with {settings.workers} workers", flush=True)
    while not stopping.is_set():
        alive = [w.sentinel for w in workers if w is not None]
        if alive:
            wait(alive, timeout=0.5)  # returns when a worker ends, or to look at `stopping`
        else:
            time.sleep(0.5)
        if stopping.is_set():
            break
        now = time.monotonic()
        for slot, worker in enumerate(workers):
            if worker is not None and not worker.is_alive():
                worker.join()
                code = worker.exitcode
                how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                pause[slot] = min(max(1.0, 2 * pause[slot]), 30.0) if now - started[slot] < quick_death else 0.0
                log.error("worker %d (pid %s) died (%s); starting a replacement%s",
                          slot, worker.pid, how, f" in {pause[slot]:.0f} s" if pause[slot] else "")
                workers[slot], due[slot] = None, now + pause[slot]
            if workers[slot] is None and now >= due[slot]:
                start(slot)
                log.info("worker %d started (pid %s)", slot, workers[slot].pid)
    for worker in workers:
        if worker is not None and worker.is_alive():
            worker.terminate()  # SIGTERM: aiohttp shuts down gracefully
    deadline = time.monotonic() + 10.0
    for worker in workers:
        if worker is not None:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                log.warning("worker pid %s did not stop in 10 s; killing it", worker.pid)
                worker.kill()
                worker.join()
    return 0


def _open(settings: Settings) -> tuple[Any, Any, Any]:
    from ledger.application import Ledger
    from projections.db import ReadDB
    from projections.runner import Projector

    ledger = Ledger(settings.db, snapshot_key=settings.snapshot_key)
    db = ReadDB(settings.db)
    return ledger, db, Projector(ledger, db)


def cmd_project(args: argparse.Namespace) -> int:
    from api import logs

    logs.configure()
    ledger, db, projector = _open(_settings(args))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    projector.start()
    print(f"projecting {_masked(_settings(args).db)} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    projector.stop()
    return 0


def _masked(db_url: str) -> str:
    """A database URL fit for a log line: its password replaced by ***."""
    from urllib.parse import urlparse

    password = urlparse(db_url).password
    return db_url if password is None else db_url.replace(f":{password}@", ":***@", 1)


def cmd_status(args: argparse.Namespace) -> int:
    """Print where the log and the read model stand, as JSON: exit 0; exit 1 when the
    database does not answer or, with --max-lag N, the read model is more than N events
    behind. The health check of `ledger project` (a stopped projector lets the lag grow)."""
    from urllib.parse import urlparse

    settings = _settings(args)
    url = urlparse(settings.db)
    where = _masked(settings.db)
    ledger = db = None
    try:
        if url.scheme in ("postgresql", "postgres"):
            # libpq's own reason (refused, unknown host, bad password) at once, where the
            # library's pool would say only that it got no connection within 3 s.
            import psycopg

            from projections.db import conninfo

            psycopg.connect(conninfo(settings.db), connect_timeout=3).close()
        ledger, db, projector = _open(settings)
        head, projected = ledger.head(), projector.position()
    except Exception as e:  # any database failure means: not healthy
        print(f"ledger status: the database at {where} does not answer ({type(e).__name__}: {e})",
              file=sys.stderr)
        return 1
    finally:
        for resource in (db, ledger):
            try:
                if resource is not None:
                    resource.close()
            except Exception:  # closing a pool to a dead database may fail too; the answer stands
                pass
    lag = head - projected
    print(orjson.dumps({"head": head, "projected": projected, "lag": lag}).decode(), flush=True)
    if args.max_lag is not None and lag > args.max_lag:
        print(f"ledger status: the read model is {lag} events behind the log (more than --max-lag {args.max_lag})",
              file=sys.stderr)
        return 1
    return 0


def _duration(text: str) -> timedelta:
    """`90d`, `12h` or `30m`: how long a new token is valid."""
    match = re.fullmatch(r"([1-9][0-9]{0,5})([dhm])", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90d, 12h or 30m")
    unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


def cmd_token_create(args: argparse.Namespace) -> int:
    from api.tokens import PARTY_ROLES, TokenError, TokenStore
    from ledger.events import PARTY_CODE
    from projections import queries
    from projections.db import ReadDB

    db = ReadDB(_settings(args).db)
    if args.role in PARTY_ROLES and args.party and re.fullmatch(PARTY_CODE, args.party) \
            and queries.party_identity(db, args.party) is None:
        print(f"ledger token create: {args.party} is not a registered party (an admin posts its PartyRegistered "
              "first; `ledger status` shows whether the read model is behind)", file=sys.stderr)
        return 2
    try:
        info, secret = TokenStore(db).create(args.role, args.party, args.expires_in, args.name)
    except TokenError as e:
        print(f"ledger token create: {e}", file=sys.stderr)
        return 2
    bound = f" for {args.party}" if args.party else ""
    named = f", naming {info.person}" if info.person else ""
    print(f"created {info.token_id} ({args.role}{bound}{named}), valid until {info.expires_at}", file=sys.stderr)
    print(secret)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    """One JSON line per token, oldest first: its id, role, party, person and dates, never the secret."""
    from api.tokens import TokenStore
    from projections.db import ReadDB

    for info in TokenStore(ReadDB(_settings(args).db)).list_tokens():
        print(orjson.dumps({"id": info.token_id, "role": info.role, "party": info.party, "name": info.person,
                            "createdAt": info.created_at,
                            "expiresAt": info.expires_at, "revokedAt": info.revoked_at}).decode())
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from api.tokens import TokenStore
    from projections.db import ReadDB

    if args.token_id.startswith("plg_"):  # the secret itself: never echoed
        print("ledger token revoke: that is a token, not its id: pass its id (tok_...), as `ledger token create` "
              "printed it and `ledger token list` shows it", file=sys.stderr)
        return 2
    if TokenStore(ReadDB(_settings(args).db)).revoke(args.token_id):
        print(f"revoked {args.token_id}", file=sys.stderr)
        return 0
    print(f"ledger token revoke: no active token {args.token_id}", file=sys.stderr)
    return 1


def cmd_demo(args: argparse.Namespace) -> int:
    from ledger import demo
    from ledger.application import BatchRefused, IdReused
    from ledger.events import parse_event

    ledger, _, projector = _open(_settings(args))
    stored = total = 0
    for batch in demo.batches():
        try:
            result = ledger.post([parse_event(e) for e in batch.events], "admin:cli-demo")
        except (IdReused, BatchRefused) as e:  # a ledger holding another version of the demo, or other figures
            print(f"ledger demo: this ledger cannot take the demo's batch {batch.title!r} ({e}); "
                  "load the demo into a new database (make run starts from a fresh one)", file=sys.stderr)
            return 1
        total += len(batch.events)
        stored += len(batch.events) if result.created else 0
    projector.catch_up()
    print(f"demo: Purmerend, Lelystad, Regionaal Werkbedrijf Stedendriehoek, Drentsche Aa: "
          f"{stored} of {total} events stored", file=sys.stderr)
    return 0


def cmd_post(args: argparse.Namespace) -> int:
    """Post a file's events as one atomic batch, as the admin (api/file_posting.py); the
    refused rows, each with its reason, and exit 1 if any is refused."""
    from pathlib import Path

    from api.file_posting import FileRefused, post_file, summary

    settings = _settings(args)
    ledger, _, projector = _open(settings)
    try:
        result, count = post_file(ledger, Path(args.file), settings.max_batch, args.dry_run)
    except FileRefused as e:
        print(f"ledger post: {e.summary}", *e.lines, sep="\n", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"ledger post: {e}", file=sys.stderr)
        return 1
    if not args.dry_run:
        projector.catch_up()
    print(summary(result, count), file=sys.stderr)
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    _, _, projector = _open(_settings(args))
    count = projector.rebuild(progress=not args.quiet)
    print(f"rebuilt the read model from {count} events", file=sys.stderr)
    return 0


class Refused(Exception):
    """A command that cannot answer: `main` prints the one line that says why and exits
    with `code` (2 for a malformed argument, 1 for what the ledger refuses)."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _party_report(args: argparse.Namespace, report: Any, refusals: tuple[type[Exception], ...]) -> Any:
    """`report(db, settings)` of the read model for `--party`; `Refused` for a malformed
    party code, an unregistered party or one of `refusals` (what the route answers with
    a 422)."""
    from ledger.events import PARTY_CODE
    from projections.db import ReadDB

    if not re.fullmatch(PARTY_CODE, args.party):
        raise Refused(f"--party {args.party!r} is not a party code such as GM0439", 2)
    settings = _settings(args)
    db = ReadDB(settings.db)
    try:
        body = report(db, settings)
    except refusals as e:
        raise Refused(str(e)) from None
    finally:
        db.close()
    if body is None:
        raise Refused(f"{args.party} is not a registered party")
    return body


def _as_of(args: argparse.Namespace) -> str | None:
    from ledger.application import rfc3339

    return rfc3339(args.as_of) if args.as_of else None


def cmd_sisa(args: argparse.Namespace) -> int:
    """Print a party's SiSa G2 indicators for a year as JSON (GET /v1/sisa), and with
    --xlsx also write them as the spreadsheet the API serves."""
    from api.openapi import table_columns
    from api.render import xlsx_response
    from ledger.sisa import YearNotMapped
    from projections import sisa

    body = _party_report(args, lambda db, _: sisa.report(db, args.party, args.year, _as_of(args)), (YearNotMapped,))
    if args.xlsx:
        with open(args.xlsx, "wb") as out:
            out.write(xlsx_response(sisa.rows(body), table_columns()["sisa"], "sisa").body)
    print(orjson.dumps(body).decode())
    return 0


def cmd_iv3(args: argparse.Namespace) -> int:
    """Print a party's Iv3 delivery for a year and period as JSON (GET /v1/iv3: what CBS
    takes), and with --xlsx also write it in the sheets of CBS's Excel model."""
    from api.iv3_sheets import workbook
    from api.render import json_response
    from ledger.iv3_cbs import BeforeTaakvelden
    from projections import iv3

    body = _party_report(
        args,
        lambda db, settings: iv3.report(db, args.party, args.year, args.period, _as_of(args), settings.iv3_contact),
        (BeforeTaakvelden, iv3.NoCbsNumber),
    )
    if args.xlsx:
        with open(args.xlsx, "wb") as out:
            out.write(workbook(body))
    print(json_response(body).body.decode())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """The log as NDJSON on stdout; with `--keys FILE` the client key table into FILE
    (ledger/key_file.py), readable by its owner alone, read once the log is written."""
    from ledger import key_file
    from projections.runner import public_event

    ledger, _, _ = _open(_settings(args))
    try:  # made before the log is written (and so checked to be writable), filled after it
        keys_out = None if not args.keys else open(os.open(args.keys, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
    except OSError as e:
        raise Refused(f"cannot write the key file {args.keys}: {e.strerror}") from None
    out = sys.stdout.buffer
    after = 0
    while True:
        batch = list(ledger.log(after=after, limit=1000))
        if not batch:
            break
        out.write(b"".join(orjson.dumps(public_event(e)) + b"\n" for e in batch))
        after = batch[-1].position
    out.flush()
    if keys_out is not None:  # after the log: a key is made before its client's first event, so each logged one is here
        with keys_out:
            keys_out.writelines(key_file.lines(*ledger.client_keys.dump()))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Read an export into an empty ledger, all of it or nothing: same events, positions,
    posters and recorded instants, every rule checked again. The export's hash chain is
    checked first, so a tampered file stores nothing; then the whole log is posted into
    a temporary ledger, each event sealed there exactly as in the export, and only then
    copied into this one, in one transaction.

    Why staged: posted here batch by batch, a refusal halfway left the batches before it
    stored, and the ledger could then not be imported into. Deleting them again would
    not undo what other processes read meanwhile (a served API, its projector), nor
    happen at all if the import is killed halfway; and the library's store commits each
    insert itself, so the rule checks of a long log cannot share one transaction. A
    copy of rows already checked can."""
    from ledger.store import sqlite_file

    settings = _settings(args)
    path = sqlite_file(settings.db)
    fresh = path is not None and not os.path.exists(path)
    ledger, db, projector = _open(settings)
    code = 1
    try:
        code = _import(args, ledger, projector)
        return code
    finally:
        if code != 0 and fresh:  # a refused import into a new file leaves no empty ledger behind
            ledger.close()
            db.close()
            for leftover in (path, f"{path}-wal", f"{path}-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(leftover)


def _import(args: argparse.Namespace, ledger: Any, projector: Any) -> int:
    import tempfile

    from ledger.application import BatchRefused, IdReused, Ledger
    from ledger.audit import verify_export
    from ledger.events import InvalidEvent

    if ledger.head() != 0:
        print("ledger import: the ledger is not empty; import into a new database", file=sys.stderr)
        return 2
    try:
        with _seekable(args.file) as source, tempfile.TemporaryDirectory(prefix="ledger-import-") as folder:
            notes = _KeyNotes()
            checked = verify_export(notes.taking(_exported(source)))
            if not checked.intact:
                print(f"ledger import: the export's chain breaks at position {checked.bad_position}: "
                      f"{checked.problem}; nothing was stored", file=sys.stderr)
                return 1
            keys = _import_keys(args.keys, notes, ledger)
            source.seek(0)
            staging = Ledger(f"sqlite:///{folder}/staging.db")
            try:
                _stage(source, staging)
                imported = ledger.adopt(staging)
            finally:
                staging.close()
    except (InvalidEvent, BatchRefused, IdReused, KeyError, ValueError) as e:
        print(f"ledger import: {e}; nothing was stored", file=sys.stderr)
        return 1
    except OSError as e:  # the export or the key file
        print(f"ledger import: cannot read {e.filename}: {e.strerror}; nothing was stored", file=sys.stderr)
        return 1
    if keys is not None:
        secret, taken, passed_over = keys
        ledger.client_keys.load(secret, taken)
        erased = f"; {passed_over} keys of erased clients passed over" if passed_over else ""
        print(f"took {len(taken)} client keys{erased}", file=sys.stderr)
    count = projector.catch_up()
    print(f"imported {imported} events up to position {ledger.head()}; projected {count}", file=sys.stderr)
    return 0


class _KeyNotes:
    """What a key import needs of the export, noted while its chain is checked (one read
    of it): the key ids its ClientErased events name, and whether any event names a client."""

    def __init__(self) -> None:
        self.erased: set[str] = set()
        self.clients = False

    def taking(self, rows: Iterator[Any]) -> Iterator[Any]:
        from ledger.pseudonyms import CLIENT_FIELD, ERASURE

        for row in rows:
            data = row.get("data") if isinstance(row, dict) else None
            if isinstance(data, dict):  # a malformed row is the chain check's to refuse
                if row.get("type") == ERASURE and isinstance(data.get("keyId"), str):
                    self.erased.add(data["keyId"])
                self.clients = self.clients or CLIENT_FIELD in data
            yield row


def _import_keys(path: str | None, notes: _KeyNotes, ledger: Any) -> tuple[bytes, list[Any], int] | None:
    """The key file's secret and keys, but those the export records as erased, checked
    before anything is stored; None without `--keys` (and a warning when the export
    names clients, whose pseudonyms then have no keys here)."""
    from ledger import key_file

    if path is None:
        if notes.clients:
            print("ledger import: without --keys the export's clients have no keys here: their events cannot be "
                  "found by clientRef, and a client posting again gets a new pseudonym", file=sys.stderr)
        return None
    if ledger.client_keys.dump()[1]:
        raise ValueError("this ledger holds client keys already: import into a new database")
    with open(path, "rb") as f:
        secret, keys, passed_over = key_file.parse(f, notes.erased)
    if secret is None:
        raise ValueError(f"{path} holds no secret line: no key file")
    return secret, keys, passed_over


def _stage(source: Any, staging: Any) -> None:
    """Post the exported log into the `staging` ledger, run by run, at its exported
    positions; raise at the first event refused or sealed otherwise than in the export."""
    from datetime import datetime

    from ledger.chain import entry_of
    from ledger.events import parse_event

    for chunk in _chunks(source, 1000):
        for rows in _runs(chunk):
            events = [parse_event(entry_of(r)) for _, r in rows]
            stamps = [datetime.fromisoformat(r["recordedAt"]) for _, r in rows]
            first = rows[0][1]["position"]
            result = staging.post(events, rows[0][1]["postedBy"], recorded_at=stamps, first_position=first)
            for (line, r), accepted in zip(rows, result.results, strict=True):
                if (r["position"], r["chainHash"]) != (accepted.position, accepted.chain_hash):
                    raise ValueError(
                        f"line {line}: position {r['position']} was stored as position {accepted.position} "
                        "with another chain hash (this ledger derives it differently)"
                    )


def _runs(chunk: list[tuple[int, dict[str, Any]]]) -> list[list[tuple[int, dict[str, Any]]]]:
    """The chunk's (line, event) rows cut into batches of one poster at consecutive
    positions: each is posted at its exported positions, gaps and all."""
    runs: list[list[tuple[int, dict[str, Any]]]] = []
    for row in chunk:
        last = runs[-1][-1][1] if runs else None
        if last is None or last["postedBy"] != row[1]["postedBy"] or last["position"] + 1 != row[1]["position"]:
            runs.append([])
        runs[-1].append(row)
    return runs


def _seekable(path: str) -> Any:
    """The file at `path`, or standard input spooled to a temporary file (read twice)."""
    import shutil
    import tempfile

    if path != "-":
        return open(path, "rb")  # noqa: SIM115
    spool = tempfile.TemporaryFile()  # noqa: SIM115
    shutil.copyfileobj(sys.stdin.buffer, spool)
    spool.seek(0)
    return spool


def cmd_erase_client(args: argparse.Namespace) -> int:
    """Erase a client by key (ledger/pseudonyms.py): its events, figures and the hash
    chain stay as they are, and nothing links the client to them any more."""
    from datetime import UTC, datetime

    from ledger.application import BatchRefused
    from ledger.events import InvalidEvent

    ledger, _, projector = _open(_settings(args))
    today = datetime.now(UTC).date().isoformat()
    try:
        accepted = ledger.erase_client(args.party, args.client_ref, args.reference, today)
    except InvalidEvent as e:
        raise Refused(f"{'; '.join(f'{p.name}: {p.reason}' for p in e.params)}", 2) from None
    except BatchRefused as e:
        raise Refused(f"{'; '.join(str(v) for _, v in e.violations)}") from None
    if accepted is None:
        raise Refused(f"{args.party} has no client {args.client_ref} with a key "
                      "(never posted, or erased before); nothing was changed")
    projector.catch_up()
    print(f"erased: {args.party}'s client no longer links to its events; ClientErased {accepted.id} "
          f"at position {accepted.position}", file=sys.stderr)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Recompute the hash chain of the store (or of an export file) and say whether it is
    intact; exit 1 naming the first position that does not match, or a stored snapshot
    whose seal does not (the log may be intact even so: both are said)."""
    from ledger.audit import verify_export

    anchors = dict(args.anchor)
    if args.file:
        with _seekable(args.file) as source:
            try:
                result = verify_export(_exported(source), anchors)
            except ValueError as e:
                print(f"ledger verify: {e}", file=sys.stderr)
                return 1
    else:
        from ledger.application import Ledger, rfc3339

        settings = _settings(args)
        result = Ledger(settings.db, snapshot_key=settings.snapshot_key).verify(anchors, as_of=args.as_of and rfc3339(args.as_of))
    if args.json:
        print(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        _print_verification(result)
    return 0 if result.intact and not result.snapshots_unproven else 1


def _print_verification(result: Any) -> None:
    if result.intact:
        print(f"intact: {result.count} events; head at position {result.head_position}: {result.head}")
    else:
        print(f"NOT INTACT at position {result.bad_position}: {result.problem}")
        print(f"{result.count} events verified before it")
    for closed in result.closed_years:
        state = "unchanged" if closed["figuresUnchanged"] else f"CHANGED at position {closed['changedAt']}"
        until = f" until reopened at position {closed['reopenedAt']}" if closed["reopenedAt"] is not None else ""
        print(f"closed {closed['party']} {closed['year']} at position {closed['position']} ({closed['chainHash']}): "
              f"figures {state}{until}")
    for anchor in result.anchors:
        print(f"anchor {anchor['position']}:{anchor['hash']} {'matches' if anchor['matches'] else 'DOES NOT MATCH'}")
    if result.snapshots:
        print(f"snapshots: {result.snapshots}")


def _exported(source: Any) -> Any:
    """The exported events of an NDJSON file, one by one."""
    return (row for chunk in _chunks(source, 1000) for _, row in chunk)


def _chunks(lines: Any, size: int) -> Any:
    """Lists of up to `size` (line number, exported event) pairs."""
    chunk: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            chunk.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError:
            raise ValueError(f"line {number} is not JSON") from None
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _anchor(text: str) -> Any:
    """A --anchor, checked as the arguments are (a usage error before any database is opened)."""
    from ledger.audit import parse_anchor

    try:
        return parse_anchor(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _instant(text: str) -> Any:
    from datetime import datetime

    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 instant, e.g. 2017-03-01T00:00:00Z") from None
    if instant.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone (Z or an offset)")
    return instant


def parser() -> argparse.ArgumentParser:
    from api.tokens import DEFAULT_VALIDITY, ROLES

    p = argparse.ArgumentParser(prog="ledger", description="Participatiewet budget ledger")
    p.add_argument("--db", help="database URL (default: LEDGER_DB or sqlite:///./ledger.db)")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--external-projector", action="store_true", help="projections run in `ledger project`")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("project", help="run the projections in this process").set_defaults(func=cmd_project)
    status = sub.add_parser("status", help="print head, projected and lag as JSON; exit 1 if the database does not answer")
    status.add_argument("--max-lag", type=int, metavar="N", help="also exit 1 when the read model is more than N events behind")
    status.set_defaults(func=cmd_status)

    token = sub.add_parser("token", help="manage API tokens").add_subparsers(dest="token_command", required=True)
    create = token.add_parser("create", help="make a token and print it once")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--party", help="the party a gemeente, organisation or controller token is bound to")
    create.add_argument("--expires-in", type=_duration, default=DEFAULT_VALIDITY, metavar="DURATION",
                        help="how long the token is valid: 90d, 12h or 30m (default 90d)")
    create.add_argument("--name", help="the person who will use it, recorded with every event it posts (postedBy)")
    create.set_defaults(func=cmd_token_create)
    token.add_parser("list", help="every token's id, role, party, person and dates as JSON lines").set_defaults(func=cmd_token_list)
    revoke = token.add_parser("revoke", help="withdraw a token")
    revoke.add_argument("token_id")
    revoke.set_defaults(func=cmd_token_revoke)

    sub.add_parser("demo", help="load the example municipalities").set_defaults(func=cmd_demo)
    post = sub.add_parser("post", help="post a .csv, .xlsx, .json or .ndjson file as one atomic batch, as the admin")
    post.add_argument("file")
    post.add_argument("--dry-run", action="store_true", help="check every row against the rules, store nothing")
    post.set_defaults(func=cmd_post)
    rebuild = sub.add_parser("rebuild", help="rebuild every projection from the log")
    rebuild.add_argument("--quiet", action="store_true", help="no progress bar")
    rebuild.set_defaults(func=cmd_rebuild)
    sisa = sub.add_parser("sisa", help="print a party's SiSa G2 indicators for a year as JSON")
    sisa.add_argument("--party", required=True, help="the party code, e.g. GM0439")
    sisa.add_argument("--year", required=True, type=int, help="the bijlage year (jaar T)")
    sisa.add_argument("--as-of", type=_instant, metavar="INSTANT", help="as the ledger knew it at this RFC 3339 instant")
    sisa.add_argument("--xlsx", metavar="FILE", help="also write the indicators as a spreadsheet")
    sisa.set_defaults(func=cmd_sisa)
    iv3 = sub.add_parser("iv3", help="print a party's Iv3 delivery (CBS's JSON) for a year and period")
    iv3.add_argument("--party", required=True, help="the party code, e.g. GM0439")
    iv3.add_argument("--year", required=True, type=int, help="the boekjaar")
    iv3.add_argument("--period", type=int, choices=range(6), default=5,
                     help="0 begroting, 1-4 the quarters (cumulative), 5 jaarrekening (default)")
    iv3.add_argument("--as-of", type=_instant, metavar="INSTANT", help="as the ledger knew it at this RFC 3339 instant")
    iv3.add_argument("--xlsx", metavar="FILE", help="also write it in the sheets lasten, baten, balans")
    iv3.set_defaults(func=cmd_iv3)
    export = sub.add_parser("export", help="write the event log as NDJSON to stdout")
    export.add_argument("--keys", metavar="FILE", help="also write the client keys to FILE (keep it as a backup of secrets)")
    export.set_defaults(func=cmd_export)
    imp = sub.add_parser("import", help="read an export into an empty ledger")
    imp.add_argument("file", nargs="?", default="-", help="NDJSON file (default: stdin)")
    imp.add_argument("--keys", metavar="FILE", help="the client keys `ledger export --keys` wrote beside it")
    imp.set_defaults(func=cmd_import)
    erase = sub.add_parser("erase-client", help="destroy a client's key: nothing links it to its events any more")
    erase.add_argument("party")
    erase.add_argument("client_ref", metavar="CLIENTREF")
    erase.add_argument("--reference", required=True, help='the AVG request, e.g. "AVG-verzoek 2026-118"')
    erase.set_defaults(func=cmd_erase_client)
    verify = sub.add_parser("verify", help="check the hash chain: exit 0 if intact, 1 naming the first bad position")
    verify.add_argument("--file", help="verify an export (NDJSON, - for stdin) instead of the database")
    verify.add_argument("--anchor", action="append", default=[], type=_anchor, metavar="POSITION:HASH",
                        help="a chain hash held outside the database (e.g. a YearClosed's); repeatable")
    verify.add_argument("--as-of", type=_instant, metavar="INSTANT",
                        help="verify the log as it stood at this RFC 3339 instant (not with --file)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=cmd_verify)
    return p


# Commands that read a ledger (or change one that must be there): a SQLite file that
# does not exist is refused, never made empty and answered for.
_READING = {"status", "project", "rebuild", "sisa", "iv3", "export", "verify", "erase-client", "token list",
            "token revoke"}


def _check_exists(args: argparse.Namespace) -> None:
    from ledger.store import sqlite_file

    command = " ".join(filter(None, (args.command, getattr(args, "token_command", None))))
    if command not in _READING or (command == "verify" and args.file):
        return
    path = sqlite_file(_settings(args).db)
    if path is not None and not os.path.exists(path):
        raise Refused(f"there is no ledger at {path}: no such file (`ledger demo`, `ledger import` or "
                      "`ledger serve` makes one; --db or LEDGER_DB names another)")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for inner in ("host", "port", "workers"):
        args.__dict__.setdefault(inner, None)
    from ledger.application import LogDamaged

    try:
        _check_exists(args)
        return args.func(args)
    except LogDamaged as e:  # rows deleted or moved behind the ledger's back
        print(f"ledger {args.command}: the log is damaged: {e}", file=sys.stderr)
        return 1
    except Refused as e:
        print(f"ledger {args.command}: {e}", file=sys.stderr)
        return e.code


if __name__ == "__main__":
    sys.exit(main())
