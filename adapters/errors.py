"""Refusals the commands and queries raise for the officer to read, the
command's exit codes, and what every other failure means for the officer."""
from __future__ import annotations

import json

EXIT_OK = 0
EXIT_REFUSED = 1  # bad input, a refused command, an unexplained variance at close
EXIT_ALTERED = 2  # audit verify: the history was altered
EXIT_VIEWS_DIFFER = 3  # replay: a view differs from its rebuild
EXIT_USAGE = 64  # the command line itself is wrong (EX_USAGE)
EXIT_TEMPORARY = 75  # another writer, or the database unreachable: try again (EX_TEMPFAIL)
EXIT_INTERRUPTED = 130  # Ctrl-C

EXIT_CODES_HELP = """exit codes: 0 done, 1 refused (input, or an unexplained variance at close),
2 history altered (audit verify), 3 a view differs from its rebuild (replay),
64 usage error, 75 temporarily unable (database busy or unreachable), 130 interrupted"""

_RETRY = ("A command records all it does in one transaction, committed at its end: if it did not "
          "report success, nothing of it was recorded, and running it again records nothing twice.")


class CommandRefused(Exception):
    """A command the ledger refuses as a whole (message for the officer)."""


class NotPermitted(CommandRefused):
    """The acting person may not do this (e.g. four eyes: close a month whose payroll they ran)."""


class CommandInterrupted(Exception):
    """The database failed under a recording command; after reconnecting,
    ``recorded`` events were found written after the command began (None:
    the database could not be reached again to tell)."""

    def __init__(self, command: str, cause: BaseException, recorded: int | None):
        self.command, self.cause, self.recorded = command, cause, recorded
        if recorded is None:
            outcome = ("the database could not be reached again to check what was recorded. It commits a "
                       "command all at once or not at all: run the command again when it is back, it "
                       "records nothing twice")
        elif recorded == 0:
            outcome = ("reconnected and checked: nothing of it was recorded. Run it again when the "
                       "database is steady")
        else:
            outcome = (f"reconnected and checked: it WAS recorded ({recorded} events). Its files or views "
                       "may not be up to date: run it again, it records nothing twice and writes them")
        super().__init__(f"the database stopped during `{command}` ({_first_line(cause)}); {outcome}")


def is_connection_failure(exc: BaseException) -> bool:
    """A failure of the database or the connection to it, not of the command."""
    from eventsourcing.persistence import InterfaceError, IntegrityError, OperationalError
    from sqlalchemy.exc import DBAPIError, IntegrityError as SAIntegrityError, PendingRollbackError

    if isinstance(exc, (IntegrityError, SAIntegrityError)):
        return False
    # PendingRollbackError: a connection the server dropped under a
    # transaction, used again before the pool has replaced it.
    return isinstance(exc, (OperationalError, InterfaceError, DBAPIError, PendingRollbackError)) \
        or _is_driver_error(exc)


def explain(exc: BaseException) -> tuple[int, str]:
    """(exit code, message) for a failure no command turned into a refusal."""
    from eventsourcing.persistence import IntegrityError, MapperDeserialisationError
    from eventsourcing.utils import TopicError
    from sqlalchemy.exc import DBAPIError
    from pydantic import ValidationError

    from .rulefiles import RuleFileError
    from .store import StoreURLError

    from .command_lock import LedgerBusy

    if isinstance(exc, (CommandRefused, StoreURLError, RuleFileError)):
        return EXIT_REFUSED, str(exc)
    if isinstance(exc, (LedgerBusy, CommandInterrupted)):
        return EXIT_TEMPORARY, str(exc)
    if isinstance(exc, ValidationError):
        return EXIT_REFUSED, f"the settings are not valid: {exc}"
    if isinstance(exc, IsADirectoryError):
        return EXIT_REFUSED, f"{exc.filename} is a folder, not a file"
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return EXIT_REFUSED, f"{exc.filename or exc}: no such file or folder"
    if isinstance(exc, PermissionError):
        return EXIT_REFUSED, f"{exc.filename or exc}: not allowed to read or write it"
    if isinstance(exc, IntegrityError):
        return EXIT_TEMPORARY, f"another command recorded for the same people meanwhile, again and again. {_RETRY}"
    if is_connection_failure(exc) or isinstance(exc, DBAPIError):
        return EXIT_TEMPORARY, f"the database is unreachable or stopped mid-command ({_first_line(exc)}). {_RETRY}"
    if isinstance(exc, (MapperDeserialisationError, TopicError, json.JSONDecodeError, UnicodeDecodeError)) \
            or _is_cipher_error(exc):
        return EXIT_ALTERED, (f"a stored event cannot be read ({type(exc).__name__}: {_first_line(exc)}): "
                              "the history was altered, or the cipher key is not the one it was written with")
    return EXIT_REFUSED, (f"unexpected failure ({type(exc).__name__}: {_first_line(exc)}). {_RETRY} "
                          "Run with --log-level DEBUG for the details.")


def _is_driver_error(exc: BaseException) -> bool:
    import sqlite3

    import psycopg

    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError, sqlite3.OperationalError))


def _is_cipher_error(exc: BaseException) -> bool:
    from cryptography.exceptions import InvalidTag

    return isinstance(exc, InvalidTag)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
