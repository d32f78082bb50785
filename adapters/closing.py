"""What follows a month's close, the same from the command line and the
web: the signed checkpoint of the history's head (when the office has a
signing key), and, on a province's ledger, the month published for the
national database. The close stands whatever happens here: a failure is
returned as a reason, and ``ledger national publish`` does it later."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ledger.months import Month

from .errors import CommandRefused


@dataclass(frozen=True)
class AfterClose:
    checkpoint: str | None  # the checkpoint file written; None without a signing key
    published: dict | None  # None: this ledger serves no province

    def as_dict(self) -> dict:
        return {"checkpoint": self.checkpoint, "published": self.published}


def checkpoint_path(out_dir: str | Path, month: Month, checkpoint: dict) -> Path:
    return Path(out_dir) / f"checkpoint-{month}-{checkpoint['position']}.json"


def after_close(queries, settings, month: Month, out_dir: str | Path) -> AfterClose:
    from .checkpoints import load_signing_key, make_checkpoint, write_checkpoint
    from .national.cli import publish

    runtime = queries.runtime
    checkpoint = None
    if runtime.signing_key_file is not None:
        checkpoint = make_checkpoint(runtime, load_signing_key(runtime.signing_key_file))
        written = str(write_checkpoint(checkpoint, checkpoint_path(out_dir, month, checkpoint)))
    else:
        written = None
    if not settings.province_code:
        return AfterClose(written, None)
    if checkpoint is None:
        return AfterClose(None, dict(published=False,
                                     reason="no signing key: nothing to sign the published month with"))
    try:
        done = publish(queries, settings, month, checkpoint)
    except CommandRefused as exc:
        return AfterClose(written, dict(published=False, reason=str(exc)))
    return AfterClose(written, dict(published=True, **done.as_dict()))
