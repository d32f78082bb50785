"""A synthetic province run through months, through the ledger's own
commands (as ``ledger demo`` does for a district): its people's decisions,
each month's payroll, the agents' results, and the month closed with every
variance accepted, by ``ledger settlement close`` so the close is signed
and published as in an office."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from adapters import synthetic
from adapters.bootstrap import open_runtime
from adapters.checkpoints import new_signing_key
from adapters.cli import main as ledger
from adapters.commands import Commands
from adapters.queries import Queries
from adapters.settings import LedgerSettings
from ledger.months import Month

OFFICER, HEAD = "officer", "head-of-office"


@dataclass
class Province:
    code: str  # the province_code setting (also the synthetic area's province number)
    url: str
    folder: Path
    people: int
    seed: int = 7

    def __post_init__(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.key_file = self.folder / "signing.pem"
        if not self.key_file.exists():
            pem, self.public_key = new_signing_key()
            self.key_file.write_bytes(pem)
            (self.folder / "public.hex").write_text(self.public_key)
        self.public_key = (self.folder / "public.hex").read_text()
        self.config = self.folder / "ledger.toml"
        self.config.write_text(f'database_url = "{self.url}"\nprovince_code = "{self.code}"\n'
                               f'signing_key_file = "{self.key_file}"\ntreasury_account = "3761201000123"\n',
                               encoding="utf-8")
        self.area = synthetic.Area(province_code=self.code)

    def settings(self) -> LedgerSettings:
        return LedgerSettings.load(self.config)

    def register(self, first_payroll: Month) -> int:
        """Everyone's register decision, effective before the first payroll."""
        rows = synthetic.registrations(self.people, seed=self.seed, area=self.area, first=first_payroll - 2,
                                       months_count=2)
        with open_runtime(settings=self.settings()) as runtime:
            path = synthetic.write_csv(self.folder / "decisions.csv", rows)
            return Commands(runtime).import_decisions(path, OFFICER).recorded_events

    def pay(self, month: Month) -> int:
        """The month's payroll and the agents' results; the lines issued."""
        out = self.folder / f"out-{month}"
        with open_runtime(settings=self.settings()) as runtime:
            commands = Commands(runtime)
            payroll = commands.run_payroll(month, out / "payroll", OFFICER)
            for name in payroll.files:
                if not name.endswith(".csv"):
                    continue
                rows = synthetic.read_payroll_csv(name)
                if "VNPOST" in name:
                    results = synthetic.postoffice_results(rows, str(month), seed=self.seed)
                    path = synthetic.write_csv(out / f"result-{Path(name).stem}.csv", results,
                                               synthetic.POSTOFFICE_RESULT_COLUMNS)
                    commands.import_postoffice(path, OFFICER)
                else:
                    results = synthetic.bank_results(rows, str(month), seed=self.seed)
                    path = synthetic.write_csv(out / f"result-{Path(name).stem}.csv", results,
                                               synthetic.BANK_RESULT_COLUMNS)
                    commands.import_bank(path, OFFICER)
            return payroll.lines

    def close(self, month: Month) -> dict:
        """``ledger settlement close``, every variance accepted with a reason;
        its JSON answer (with what was published)."""
        with open_runtime(settings=self.settings()) as runtime:
            keys = [v.key(s.agent_code) for s in Queries(runtime).reconcile(month) for v in s.variances]
        argv = ["--config", str(self.config), "--actor", HEAD, "settlement", "close", "--month", str(month),
                "--checkpoint-out", str(self.folder / "checkpoints"), "--json"]
        for key in keys:
            argv += ["--accept", f"{key}=followed up with the agent"]
        return run_ledger(argv)

    def summary(self, month: Month):
        """The province's own report of the month (what its settlement
        report prints)."""
        with open_runtime(settings=self.settings()) as runtime:
            return Queries(runtime).district_summary(month)


def run_ledger(argv: list[str]) -> dict:
    """Run one ``ledger`` command in this process; its JSON answer."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = ledger(argv)
    if code != 0:
        raise RuntimeError(f"ledger {' '.join(argv)} exited {code}: {out.getvalue()}")
    return json.loads(out.getvalue())
