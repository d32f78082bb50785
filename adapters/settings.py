"""Settings of the office running the ledger, from the environment,
validated with pydantic."""
from __future__ import annotations

import os

from pydantic import BaseModel, Field


class OfficeSettings(BaseModel):
    # The paying office, as named on bank credit-transfer files (pain.001).
    office_name: str = Field(default="Phòng Lao động - Thương binh và Xã hội", min_length=1)
    # The office's account at the State Treasury, the debtor account.
    treasury_account: str = Field(default="KBNN-0000000000", min_length=4, max_length=34)

    @classmethod
    def from_env(cls) -> OfficeSettings:
        values = {}
        if os.environ.get("LEDGER_OFFICE_NAME"):
            values["office_name"] = os.environ["LEDGER_OFFICE_NAME"]
        if os.environ.get("LEDGER_TREASURY_ACCOUNT"):
            values["treasury_account"] = os.environ["LEDGER_TREASURY_ACCOUNT"]
        return cls(**values)
