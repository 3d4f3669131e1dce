"""`streamd policy evaluate FILE.json`: the policy over a list of hearings, as JSON lines.

The whole file is validated before anything is printed, so a script never reads half an
answer as if it were complete. Refusals name the item and the field, e.g.
`hearings[2] (id 'H3').flags[0]: unknown flag 'gory'; known: ...`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from streamd.casenumber import CaseNumberError, Procedure, parse_case_number
from streamd.domain import SessionKind
from streamd.policy.decide import Approval, ApprovalLevel, ApprovalStatus, Decision, Facts, decide
from streamd.policy.rules import Ruleset
from streamd_protocol import locate

# The CLI's vocabulary is the one the issue fixed; the model's Procedure has more values.
CLI_PROCEDURES = (Procedure.FIRST_INSTANCE, Procedure.SECOND_INSTANCE, Procedure.RETRIAL)


class EvaluateError(ValueError):
    """The input cannot be evaluated; nothing has been printed."""


class _Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ApprovalStatus
    level: ApprovalLevel | None = None


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: StrictStr | StrictInt
    case_number: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    cause: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    procedure: Procedure
    session_kind: SessionKind
    public: StrictBool
    non_public_reason: Annotated[StrictStr, Field(max_length=256)] | None = None
    flags: list[StrictStr] = Field(default_factory=list, max_length=16)
    approval: _Approval | None = None


def evaluate(data: object, rules: Ruleset) -> list[tuple[Any, Decision]]:
    """Validate every item, then decide each; raise EvaluateError on the first bad one."""
    if not isinstance(data, list):
        raise EvaluateError("the input must be a JSON list of hearings")
    items: list[tuple[_Item, Facts]] = []
    seen: dict[Any, int] = {}
    for i, raw in enumerate(data):
        item = _item(data, i, raw)
        where = locate(data, [i])
        if item.id in seen:
            raise EvaluateError(f"{where}.id: duplicate of item [{seen[item.id]}]")
        seen[item.id] = i
        items.append((item, _facts(where, item, rules)))
    return [(item.id, decide(facts, rules)) for item, facts in items]


def _item(data: list[Any], i: int, raw: object) -> _Item:
    if not isinstance(raw, dict):
        raise EvaluateError(f"[{i}]: each hearing must be a JSON object")
    try:
        return _Item.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise EvaluateError(f"{locate(data, [i, *err['loc']])}: {err['msg']}") from None


def _facts(where: str, item: _Item, rules: Ruleset) -> Facts:
    try:
        case = parse_case_number(item.case_number)
    except CaseNumberError as exc:
        raise EvaluateError(f"{where}.case_number: {exc}") from None
    if item.procedure not in CLI_PROCEDURES:
        known = ", ".join(p.value for p in CLI_PROCEDURES)
        raise EvaluateError(f"{where}.procedure: {item.procedure.value!r}; use one of {known}")
    for j, flag in enumerate(item.flags):
        if flag not in rules.flag_ids:
            known = ", ".join(f.id for f in rules.flags)
            raise EvaluateError(f"{where}.flags[{j}]: unknown flag {flag!r}; known: {known}")
    approval = None
    if item.approval is not None:
        approval = Approval(item.approval.status, item.approval.level)
        if approval.status is ApprovalStatus.APPROVED and approval.level is None:
            raise EvaluateError(f"{where}.approval.level: required when the status is approved")
    return Facts(
        case_type=case.type_code,
        cause=item.cause,
        procedure=item.procedure,
        session_kind=item.session_kind,
        public=item.public,
        non_public_reason=item.non_public_reason,
        flags=frozenset(item.flags),
        approval=approval,
    )


def lines(results: list[tuple[Any, Decision]], *, lang: str) -> list[dict[str, Any]]:
    return [
        {"id": ident, "decision": d.outcome.value, "rule": d.rule, "reason": d.reason(lang)}
        for ident, d in results
    ]
