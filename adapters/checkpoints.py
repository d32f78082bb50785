"""Signed checkpoints: the chain's head, signed with the office's Ed25519
key and kept outside the database (the auditor's folder, the month's signed
paper report), so that what the chain alone cannot see is found: the last
events deleted with their seals, the database truncated or rolled back, or
everything from a position on rewritten and sealed again (RFC 6962's signed
tree heads, for a hash chain).

A checkpoint holds the head (position, events stored, hash), the time, the
public key, and the recomputed chain's hash at marks along the history
(every position up to 1,024 events; about 1,024 evenly spaced marks beyond)
so that ``audit verify --against`` names where a rewritten history first
differs, not only that it does."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import CommandRefused

FORMAT = "allowance-ledger checkpoint 1"
MARKS = 1024

NO_KEY = ("no signing key: make one with `ledger keygen --signing --out office-signing.pem` and name it "
          "with signing_key_file in ledger.toml (or LEDGER_SIGNING_KEY_FILE)")


def new_signing_key() -> tuple[bytes, str]:
    """A new Ed25519 private key (PEM) and its public key (hex)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return pem, public_hex(key)


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def load_signing_key(path: Path | None) -> Ed25519PrivateKey:
    if path is None:
        raise CommandRefused(NO_KEY)
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CommandRefused(f"{path} is not an Ed25519 private key (ledger keygen --signing)")
    return key


def _signed_bytes(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def make_checkpoint(runtime, key: Ed25519PrivateKey) -> dict:
    """The signed head of the history as stored now. Refused if the history
    does not match its own seals (a checkpoint vouches for what it signs)."""
    verdict = runtime.chain.verify()
    if not verdict.ok:
        raise CommandRefused(f"no checkpoint: the history does not match its seals at position "
                             f"{verdict.first_bad_position} ({verdict.problem}); run `ledger audit verify`")
    chain = list(runtime.chain.recomputed())
    step = max(1, math.ceil(len(chain) / MARKS))
    marks = [list(chain[i]) for i in range(step - 1, len(chain), step)]
    if chain and (not marks or marks[-1][0] != chain[-1][0]):
        marks.append(list(chain[-1]))
    position, digest = chain[-1] if chain else (0, "0" * 64)
    body = dict(format=FORMAT, position=position, events=len(chain), hash=digest,
                time=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                office=runtime.office.office_name, public_key=public_hex(key), step=step, marks=marks)
    return dict(body, signature=key.sign(_signed_bytes(body)).hex())


def write_checkpoint(checkpoint: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.write_text(json.dumps(checkpoint, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)  # never a half-written checkpoint
    return path


def signature_problem(checkpoint: dict, public_key: str) -> str | None:
    """Why ``checkpoint`` (parsed) is not a ledger checkpoint signed with
    ``public_key`` (hex); None if it is. For a copy kept elsewhere (the
    national database) whose chain is not at hand."""
    try:
        body = {k: v for k, v in checkpoint.items() if k != "signature"}
        if body.get("format") != FORMAT:
            return "not a ledger checkpoint"
        if body.get("public_key") != public_key:
            return "signed with a key other than the one registered for it"
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(
            bytes.fromhex(checkpoint["signature"]), _signed_bytes(body))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"unreadable checkpoint: {exc}"
    except InvalidSignature:
        return "the checkpoint's signature is not valid: it was altered"
    return None


@dataclass(frozen=True)
class AgainstCheckpoint:
    file: str
    ok: bool
    position: int | None  # the first position that differs from the checkpoint (None: none)
    problem: str

    def as_dict(self) -> dict:
        return dict(file=self.file, ok=self.ok, position=self.position, problem=self.problem)


def check_against(runtime, file: str, expected_key: str | None = None) -> AgainstCheckpoint:
    """Does the history as stored now extend the checkpoint in ``file``?"""
    def bad(position, problem):
        return AgainstCheckpoint(file, False, position, problem)

    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
        signature = bytes.fromhex(data.pop("signature"))
        if data.get("format") != FORMAT:
            return bad(None, "not a ledger checkpoint")
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(data["public_key"])).verify(
            signature, _signed_bytes(data))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return bad(None, f"unreadable checkpoint: {exc}")
    except InvalidSignature:
        return bad(None, "the checkpoint's signature is not valid: the file was altered")
    if expected_key and data["public_key"] != expected_key:
        return bad(None, "signed with a key other than this office's (signing_key_file)")
    marks = iter([(int(p), h) for p, h in data["marks"]])
    mark = next(marks, None)
    last_good, count = 0, 0
    for position, digest in runtime.chain.recomputed():
        if mark is None:
            break
        count += 1
        if position > mark[0]:
            return bad(_first_differing(last_good, mark[0], data["step"]),
                       f"position {mark[0]} of the checkpoint is gone from the history (deleted, or the history "
                       f"was rewritten{_between(last_good, mark[0], data['step'])})")
        if position == mark[0]:
            if digest != mark[1]:
                return bad(_first_differing(last_good, position, data["step"]),
                           f"the history differs from the checkpoint{_between(last_good, position, data['step'])}: "
                           "rewritten since it was signed")
            last_good, mark = position, next(marks, None)
    if mark is not None:
        return bad(_first_differing(last_good, mark[0], data["step"]),
                   f"the history ends before the checkpoint's position {data['position']}: its last events were "
                   "deleted (the tail, or the database truncated or rolled back)")
    if count != data["events"]:
        return bad(None, f"{data['events']} events up to position {data['position']} were signed, "
                         f"{count} are stored")
    return AgainstCheckpoint(file, True, None, "")


def _first_differing(last_good: int, mark_position: int, step: int) -> int:
    # With a mark at every position the first bad one is exact; otherwise
    # the first position after the last mark that still matches.
    return mark_position if step == 1 else last_good + 1


def _between(last_good: int, position: int, step: int) -> str:
    return "" if step == 1 else f", somewhere after position {last_good} and by {position}"
