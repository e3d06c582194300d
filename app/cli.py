"""The `specloom` command."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from app.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from app.registry.files import PushResult, SuiteCheck
    from app.registry.pull import Pulled


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `specloom` console script: a configuration mistake is one line on
    stderr and exit code 2, never a traceback."""
    try:
        return _command(argv)
    except Exception as error:
        problem = _configuration_problem(error)
        if problem is None:
            raise
        print(f"specloom: configuration error: {problem}", file=sys.stderr)
        return 2


def _configuration_problem(error: Exception) -> str | None:
    """The one line saying which setting or file is wrong and what to do; None when `error`
    is not about configuration (a bug keeps its traceback)."""
    import psycopg
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from app.core.config_errors import ConfigurationError, settings_problem
    from app.providers.catalog import ModelsFileError

    if isinstance(error, ValidationError) and error.title == "Settings":
        error = settings_problem(error)
    if isinstance(error, ConfigurationError):
        return str(error)
    if isinstance(error, ModelsFileError):
        return f"SPECLOOM_MODELS_FILE: {error}"
    if isinstance(error, DBAPIError) and isinstance(error.orig, psycopg.OperationalError):
        error = error.orig
    if isinstance(error, psycopg.OperationalError):
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
        return f"SPECLOOM_DATABASE_URL: cannot connect to the database ({reason}); check it"
    if isinstance(error, ArgumentError):
        return "SPECLOOM_DATABASE_URL: not a database URL (postgresql+psycopg://user@host/db)"
    return None


def _specs_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.specs_command == "pull":
        return _pull(settings, args.dir or settings.specs_dir, latest=args.latest)
    if args.specs_command == "diff":
        return asyncio.run(_diff(settings, args.files))
    return asyncio.run(
        _push(settings, args.files, publish=args.publish, force_reason=args.force_reason)
    )


def _command(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="specloom", description="Spec-driven agent platform.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate the database and serve the API")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--load-specs", action="store_true", help="push and publish specs/ first")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="bring the schema to the newest migration")

    specs = commands.add_parser("specs", help="spec files")
    spec_commands = specs.add_subparsers(dest="specs_command", required=True)
    push = spec_commands.add_parser("push", help="load spec files into the registry")
    push.add_argument("files", nargs="+", type=Path)
    push.add_argument("--publish", action="store_true", help="make the pushed versions live")
    push.add_argument(
        "--force-reason",
        default=None,
        help="with --publish: publish even when the tests fail or were answered by the "
        "offline model (the reason is recorded on the release)",
    )
    pull = spec_commands.add_parser("pull", help="write every spec's live version to files")
    pull.add_argument("--dir", type=Path, default=None, help="default: SPECLOOM_SPECS_DIR")
    pull.add_argument("--latest", action="store_true", help="the latest versions, not the live")
    diff = spec_commands.add_parser("diff", help="show what push would change")
    diff.add_argument("files", nargs="+", type=Path)

    test = commands.add_parser("test", help="run spec files' test suites (for CI)")
    test.add_argument("files", nargs="+", type=Path)
    test.add_argument("--junit", type=Path, default=None, help="write a JUnit XML report")
    test.add_argument("--url", default=None, help="a running server (default: in-process)")
    test.add_argument("--key", default=os.environ.get("SPECLOOM_KEY"), help="its admin key")
    test.add_argument("--timeout", type=float, default=600.0, help="seconds to await a run")

    matrix = commands.add_parser("matrix", help="run a spec file's suite on several models")
    matrix.add_argument("file", type=Path)
    matrix.add_argument("--models", default=None, help="a,b,c (default: every alias)")
    matrix.add_argument("--repeat", type=int, default=None, help="runs of every case per model")
    matrix.add_argument("--junit", type=Path, default=None, help="write a JUnit XML report")
    matrix.add_argument("--url", default=None, help="a running server (default: in-process)")
    matrix.add_argument("--key", default=os.environ.get("SPECLOOM_KEY"), help="its admin key")
    matrix.add_argument("--timeout", type=float, default=1800.0, help="seconds to await it")

    models = commands.add_parser("models", help="the configured models")
    model_commands = models.add_subparsers(dest="models_command", required=True)
    model_commands.add_parser("check", help="ask each local server what it serves")

    keys = commands.add_parser("keys", help="API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a key and print its secret once")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scope",
        action="append",
        choices=["viewer", "author", "publisher", "admin", "invoke"],
        required=True,
        dest="scopes",
        help="a role (viewer, author, publisher, admin) and/or invoke",
    )
    create.add_argument("--agent", action="append", dest="agents", help="limit to this agent")
    create.add_argument("--rpm", type=int, default=None, help="requests per minute")

    worker = commands.add_parser("worker", help="run job items from the queue")
    worker.add_argument("--concurrency", type=int, default=None, help="items at once")
    jobs = commands.add_parser("jobs", help="asynchronous jobs")
    job_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    submit = job_commands.add_parser("submit", help="submit a JSONL file and follow it")
    submit.add_argument("file", type=Path, help="one input object per line")
    submit.add_argument("--agent", required=True)
    submit.add_argument("--url", default=None, help="default: http://SPECLOOM_HOST:PORT")
    submit.add_argument("--key", default=None, help="default: SPECLOOM_ADMIN_KEY / data dir")
    submit.add_argument("--version", type=int, default=None)

    _executions_parser(commands)

    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "serve":
        return _serve(settings, args.host, args.port, load_specs=args.load_specs)
    if args.command == "db":
        return _db_upgrade(settings)
    if args.command == "specs":
        return _specs_command(settings, args)
    if args.command == "test":
        from app.core.logging import configure_logging
        from app.evaluation.suite_cli import test_command

        configure_logging("WARNING")  # the per-case report, not a log line per model call

        return test_command(
            settings,
            args.files,
            junit=args.junit,
            url=args.url,
            key=args.key,
            timeout_s=args.timeout,
        )
    if args.command == "matrix":
        from app.core.logging import configure_logging
        from app.evaluation.matrix_cli import matrix_command

        configure_logging("WARNING")  # the table, not a log line per model call
        return matrix_command(
            settings,
            args.file,
            models=args.models,
            repeat=args.repeat,
            junit=args.junit,
            url=args.url,
            key=args.key,
            timeout_s=args.timeout,
        )
    if args.command == "models":
        return asyncio.run(_check_models(settings))
    if args.command == "keys":
        return asyncio.run(_create_key(settings, args.name, args.scopes, args.agents, args.rpm))
    if args.command == "worker":
        return _worker(settings, args.concurrency)
    if args.command == "executions":
        return _export(settings, args)
    if args.command == "jobs":
        from app.jobs.cli import submit_file

        return submit_file(
            settings, args.file, agent=args.agent, url=args.url, key=args.key, version=args.version
        )
    return 2  # pragma: no cover - argparse rejects unknown commands first


def _executions_parser(commands: Any) -> None:
    from app.executions.export import utc

    executions = commands.add_parser("executions", help="the execution log")
    execution_commands = executions.add_subparsers(dest="executions_command", required=True)
    export = execution_commands.add_parser(
        "export", help="write executions (with their attempts) as JSON Lines"
    )
    export.add_argument("--since", type=utc, default=None, help="ISO 8601 time (UTC if bare)")
    export.add_argument("--until", type=utc, default=None, help="ISO 8601 time, excluded")
    export.add_argument("--agent", default=None, help="only this agent's executions")
    export.add_argument("--out", default="-", help="the file to write (default: stdout)")


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from app.core.database import database_url, sync_conninfo, upgrade_to_head
    from app.executions.export import export_command

    url = database_url(settings)
    upgrade_to_head(url)
    written = export_command(
        sync_conninfo(url), args.out, since=args.since, until=args.until, agent=args.agent
    )
    print(f"{written} executions exported", file=sys.stderr)
    return 0


def _worker(settings: Settings, concurrency: int | None) -> int:
    from app.core.database import database_url, upgrade_to_head
    from app.core.logging import configure_logging
    from app.jobs.worker import run_worker
    from app.serving.assembly import catalog_for

    configure_logging(settings.log_level, settings.log_json)
    catalog_for(settings)  # a bad models file is reported before the database is touched
    upgrade_to_head(database_url(settings))
    asyncio.run(run_worker(settings, concurrency=concurrency))
    return 0


def _db_upgrade(settings: Settings) -> int:
    from app.core.database import database_url, upgrade_to_head

    upgrade_to_head(database_url(settings))
    print("database at the newest migration")
    return 0


# Why `serve --load-specs` publishes the examples when no model is configured: a newcomer can
# call them at once, and the release row and the web app say their answers are placeholders.
OFFLINE_LOAD_REASON = (
    "loaded at start-up with no model configured: the offline model's answers are "
    "placeholders, so the tests are no evidence"
)


async def _push(
    settings: Settings, files: Sequence[Path], *, publish: bool, force_reason: str | None = None
) -> int:
    from app.core.database import database_url, make_engine, make_sessionmaker, upgrade_to_head
    from app.registry.files import SpecFileError, load_spec_file, push_document

    try:
        documents = [load_spec_file(path, settings.documents) for path in files]
    except SpecFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    url = database_url(settings)
    upgrade_to_head(url)
    engine = make_engine(url)
    check = _suite_check(settings) if publish else None  # test gate
    refused = False
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for document in documents:
                result = await push_document(
                    session,
                    document,
                    author="cli",
                    publish=publish,
                    check=check,
                    force_reason=force_reason,
                )
                live = ", published" if result.published else ""
                print(f"{result.name}: {result.action} (version {result.version}{live})")
                why = _not_published(result)
                if why:
                    refused = True
                    print(f"{result.name}: not published: {why}", file=sys.stderr)
    finally:
        await engine.dispose()
    return 1 if refused else 0


def _not_published(result: PushResult) -> str | None:
    """Why a pushed version was kept from going live, if it was."""
    if result.offline:
        return (
            "its tests were answered by the offline model (no model is configured), which "
            "is no evidence; configure a model, or pass --force-reason"
        )
    if result.failing:
        return f"failing cases: {', '.join(result.failing)}"
    return None


def _suite_check(settings: Settings) -> SuiteCheck:
    """Run a version's test cases in-process before publishing it."""
    from app.evaluation.inline import suite_check
    from app.serving.assembly import standalone_context

    return suite_check(
        standalone_context(settings),
        concurrency=settings.evaluation.concurrency,
        judge_model=settings.evaluation.judge_model,
    )


def _pull(settings: Settings, directory: Path, *, latest: bool) -> int:
    from app.registry.pull import write_pulled

    for item, path in write_pulled(asyncio.run(_read_specs(settings, latest=latest)), directory):
        if path is None:
            print(f"{item.name}: no live version, skipped (--latest pulls it)")
        else:
            print(f"{item.name}: version {item.version} -> {path}")
    return 0


async def _read_specs(settings: Settings, *, latest: bool) -> list[Pulled]:
    from app.core.database import database_url, make_engine, make_sessionmaker, upgrade_to_head
    from app.registry.pull import pull_specs

    url = database_url(settings)
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await pull_specs(session, latest=latest)
    finally:
        await engine.dispose()


async def _diff(settings: Settings, files: Sequence[Path]) -> int:
    from app.core.database import database_url, make_engine, make_sessionmaker, upgrade_to_head
    from app.registry.files import SpecFileError, load_spec_file
    from app.registry.pull import describe, pending_push

    try:
        documents = [load_spec_file(path, settings.documents) for path in files]
    except SpecFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    url = database_url(settings)
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            for document in documents:
                print("\n".join(describe(await pending_push(session, document))))
    finally:
        await engine.dispose()
    return 0


async def _create_key(
    settings: Settings,
    name: str,
    scopes: Sequence[str],
    agents: Sequence[str] | None,
    rpm: int | None,
) -> int:
    from app.core.database import database_url, make_engine, make_sessionmaker, upgrade_to_head
    from app.security import audit, keys
    from app.security.roles import ROLES, Scope

    known: tuple[Scope, ...] = (*ROLES, "invoke")
    if len([s for s in scopes if s in ROLES]) > 1:
        print(
            "a key has one role (viewer, author, publisher or admin), and may add invoke",
            file=sys.stderr,
        )
        return 2

    url = database_url(settings)
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            created = await keys.create_key(
                session,
                name=name,
                scopes=[scope for scope in known if scope in scopes],  # argparse checked them
                agents=agents,
                rpm=rpm,
            )
            key = created.key
            await audit.record(
                session,
                actor="cli",
                action="key.created",
                target=f"key:{key.id}",
                details={"name": key.name, "scopes": key.scopes, "agents": key.agents, "rpm": rpm},
            )
    finally:
        await engine.dispose()
    print(f"key {key.id} ({key.name}), scopes {', '.join(key.scopes)}")
    print(f"secret (shown once, store it now): {created.secret}")
    return 0


def _serve(settings: Settings, host: str | None, port: int | None, *, load_specs: bool) -> int:
    import uvicorn

    from app.core.database import database_url, upgrade_to_head
    from app.core.http_server import header_deadline_protocol
    from app.main import create_app
    from app.registry.files import spec_files
    from app.security.auth import load_admin_key
    from app.web.session import login_url

    app = create_app(settings)  # first: a bad models file is reported before the database
    upgrade_to_head(database_url(settings))
    if load_specs and settings.specs_dir.is_dir():
        # With no model configured the suite cannot be evidence: the examples go live on
        # a recorded reason instead (a configured model's failing tests still stop the start).
        reason = OFFLINE_LOAD_REASON if settings.models_file is None else None
        files = spec_files(settings.specs_dir)
        code = asyncio.run(_push(settings, files, publish=True, force_reason=reason))
        if code:
            return code
    host = host or settings.host
    port = port or settings.port
    key, generated = load_admin_key(settings)
    base = f"http://{host}:{port}"
    print(f"Specloom serving on {base}  (API docs: {base}/docs)")
    if generated:
        print(f"Admin key (shown once, stored in {settings.data_dir / 'admin_key'}): {key}")
    else:
        print(f"Admin key: stored in {settings.data_dir / 'admin_key'} or SPECLOOM_ADMIN_KEY")
    print(f"Sign in to the web app (one-time link): {login_url(settings, key, base)}")
    # Modules and the app live as long as the process: frozen out of the collector's sight,
    # full collections on the request path no longer walk them.
    gc.freeze()
    # uvicorn raises SIGTERM again after its graceful shutdown; the default disposition would
    # end the process before its exit handlers, leaving the embedded Postgres running.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=header_deadline_protocol(settings.web.header_timeout_s),
        timeout_keep_alive=settings.web.keep_alive_s,
    )
    return 0


def _exit_on_signal(signum: int, frame: FrameType | None) -> NoReturn:
    """End the process as an exit, so the interpreter's exit handlers run."""
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())


async def _check_models(settings: Settings) -> int:
    """Print what each deployment's server says about itself; 1 when one is unreachable."""
    from app.providers.capabilities import describe, detect
    from app.providers.catalog import load_catalog

    catalog = load_catalog(settings.models_file)
    if catalog.offline:
        print("no models file: every alias is served by the offline model")
        return 0
    unreachable = 0
    for alias in catalog.aliases():
        for deployment in catalog.resolve(alias):
            found = await detect(deployment)
            unreachable += bool(deployment.api_base and not found.reachable)
            print(describe(deployment, found))
    return 1 if unreachable else 0
