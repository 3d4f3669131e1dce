"""The rules file: what may be streamed, which causes and flags keep a hearing off air.

Rules are data so that a court can follow a new work plan by editing a file, not code.
Loading validates the whole file and names the bad entry; a court never runs on rules
that only half loaded.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from streamd.casenumber import CASE_TYPES, Procedure
from streamd.domain import SessionKind
from streamd.errors import InputError

RULE_ID = r"^[a-z][a-z0-9_]{0,47}$"
Text = Annotated[str, Field(min_length=1, max_length=256)]


class PolicyError(InputError):
    """The rules file cannot be used; the message names the file and the entry."""


class Effect(StrEnum):
    EXCLUDE = "exclude"  # off air at once; the department head signs the record
    APPROVAL = "approval"  # off air only once the court level approves


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Streamable(_Strict):
    procedures: frozenset[Procedure]
    session_kinds: frozenset[SessionKind]
    case_types: frozenset[str]

    @model_validator(mode="after")
    def _known_codes(self) -> Streamable:
        unknown = sorted(self.case_types - CASE_TYPES.keys())
        if unknown:
            raise ValueError(f"unknown case-type code(s) {', '.join(unknown)}")
        return self


class CauseRule(_Strict):
    id: str = Field(pattern=RULE_ID)
    match: tuple[Annotated[str, Field(min_length=1, max_length=32)], ...] = Field(min_length=1)
    reason_zh: Text
    reason_en: Text


class FlagRule(_Strict):
    id: str = Field(pattern=RULE_ID)
    effect: Effect
    reason_zh: Text
    reason_en: Text


class Ruleset(_Strict):
    version: int = Field(ge=1, le=1)
    streamable: Streamable
    causes: tuple[CauseRule, ...] = ()
    flags: tuple[FlagRule, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> Ruleset:
        for kind, ids in (
            ("cause", [c.id for c in self.causes]),
            ("flag", [f.id for f in self.flags]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"duplicate {kind} id(s) {', '.join(dupes)}")
        return self

    def flag(self, flag_id: str) -> FlagRule | None:
        return next((f for f in self.flags if f.id == flag_id), None)

    @property
    def flag_ids(self) -> frozenset[str]:
        return frozenset(f.id for f in self.flags)


def load_rules(path: Path | None = None) -> Ruleset:
    """The court's rules from `path`, or the rules shipped with streamd."""
    if path is None:
        text = resources.files("streamd.policy").joinpath("rules.toml").read_text("utf-8")
        where = "streamd/policy/rules.toml"
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read the rules file ({exc.strerror})") from None
        where = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{where}: not valid TOML: {exc}") from None
    try:
        return Ruleset.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(file)"
        raise PolicyError(f"{where}: {loc}: {err['msg']}") from None
