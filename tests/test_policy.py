"""The eligibility policy: one row per rule with realistic hearings, the not-public
invariant as a property, the rules file's validation, and `streamd policy evaluate`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamd.casenumber import Procedure
from streamd.cli import main
from streamd.domain import SessionKind
from streamd.policy import (
    Approval,
    ApprovalLevel,
    ApprovalStatus,
    Eligibility,
    Facts,
    PolicyError,
    decide,
    load_rules,
)

RULES = load_rules()
P, K = Procedure, SessionKind
A, L = ApprovalStatus, ApprovalLevel
LOAN = Facts("民初", "民间借贷纠纷", P.FIRST_INSTANCE, K.HEARING, public=True)

# (what the case is, facts, expected decision, expected rule)
TABLE: list[tuple[str, Facts, Eligibility, str]] = [
    ("民间借贷一审公开开庭", LOAN, Eligibility.STREAM, "stream"),
    (
        "买卖合同二审",
        Facts("民终", "买卖合同纠纷", P.SECOND_INSTANCE, K.HEARING, True),
        Eligibility.STREAM,
        "stream",
    ),
    (
        "刑事再审",
        Facts("刑再", "诈骗罪", P.RETRIAL, K.HEARING, True),
        Eligibility.STREAM,
        "stream",
    ),
    (
        "庭前证据交换",
        replace(LOAN, session_kind=K.EVIDENCE_EXCHANGE),
        Eligibility.STREAM,
        "stream",
    ),
    ("质证", replace(LOAN, session_kind=K.CROSS_EXAMINATION), Eligibility.STREAM, "stream"),
    ("庭询", replace(LOAN, session_kind=K.INQUIRY), Eligibility.STREAM, "stream"),
    (
        "涉及个人隐私，依法不公开",
        Facts("民初", "隐私权纠纷", P.FIRST_INSTANCE, K.HEARING, False, "涉及个人隐私"),
        Eligibility.EXCLUDED,
        "not_public",
    ),
    (
        "未成年人犯罪，依法不公开",
        Facts("刑初", "盗窃罪", P.FIRST_INSTANCE, K.HEARING, False, "被告人系未成年人"),
        Eligibility.EXCLUDED,
        "not_public",
    ),
    (
        "离婚纠纷",
        replace(LOAN, cause="离婚纠纷"),
        Eligibility.EXCLUDED,
        "cause.divorce",
    ),
    (
        "离婚后财产纠纷",
        replace(LOAN, cause="离婚后财产纠纷"),
        Eligibility.EXCLUDED,
        "cause.divorce",
    ),
    (
        "变更抚养关系",
        replace(LOAN, cause="变更抚养关系纠纷"),
        Eligibility.EXCLUDED,
        "cause.minor_children",
    ),
    ("监护权纠纷", replace(LOAN, cause="监护权纠纷"), Eligibility.EXCLUDED, "cause.minor_children"),
    ("探望权纠纷", replace(LOAN, cause="探望权纠纷"), Eligibility.EXCLUDED, "cause.minor_children"),
    (
        "收养关系纠纷",
        replace(LOAN, cause="收养关系纠纷"),
        Eligibility.EXCLUDED,
        "cause.minor_children",
    ),
    (
        "赡养纠纷 (elders, streamable)",
        replace(LOAN, cause="赡养纠纷"),
        Eligibility.STREAM,
        "stream",
    ),
    (
        "同案犯另案处理未到案",
        Facts(
            "刑初",
            "故意伤害罪",
            P.FIRST_INSTANCE,
            K.HEARING,
            True,
            flags=frozenset({"accomplice_pending"}),
        ),
        Eligibility.EXCLUDED,
        "flag.accomplice_pending",
    ),
    (
        "新型网络诈骗手法",
        Facts(
            "刑初",
            "诈骗罪",
            P.FIRST_INSTANCE,
            K.HEARING,
            True,
            flags=frozenset({"novel_crime_method"}),
        ),
        Eligibility.EXCLUDED,
        "flag.novel_crime_method",
    ),
    (
        "手段残忍的故意杀人",
        Facts(
            "刑初",
            "故意杀人罪",
            P.FIRST_INSTANCE,
            K.HEARING,
            True,
            flags=frozenset({"cruel_or_disturbing"}),
        ),
        Eligibility.EXCLUDED,
        "flag.cruel_or_disturbing",
    ),
    (
        "涉民族宗教敏感",
        Facts(
            "行初", "行政处罚", P.FIRST_INSTANCE, K.HEARING, True, flags=frozenset({"sensitive"})
        ),
        Eligibility.EXCLUDED,
        "flag.sensitive",
    ),
    (
        "敏感标记即便已驳回的不直播申请也不直播",
        Facts(
            "刑初",
            "寻衅滋事罪",
            P.FIRST_INSTANCE,
            K.HEARING,
            True,
            flags=frozenset({"sensitive", "other_unsuitable"}),
            approval=Approval(A.REJECTED, L.COURT),
        ),
        Eligibility.EXCLUDED,
        "flag.sensitive",
    ),
    (
        "其他不宜直播，未审批",
        replace(LOAN, flags=frozenset({"other_unsuitable"})),
        Eligibility.NEEDS_APPROVAL,
        "flag.other_unsuitable",
    ),
    (
        "其他不宜直播，审批中",
        replace(LOAN, flags=frozenset({"other_unsuitable"}), approval=Approval(A.PENDING, L.COURT)),
        Eligibility.NEEDS_APPROVAL,
        "flag.other_unsuitable",
    ),
    (
        "其他不宜直播，仅庭级审核",
        replace(
            LOAN, flags=frozenset({"other_unsuitable"}), approval=Approval(A.APPROVED, L.DEPARTMENT)
        ),
        Eligibility.NEEDS_APPROVAL,
        "flag.other_unsuitable",
    ),
    (
        "其他不宜直播，院级批准",
        replace(
            LOAN, flags=frozenset({"other_unsuitable"}), approval=Approval(A.APPROVED, L.COURT)
        ),
        Eligibility.EXCLUDED,
        "flag.other_unsuitable",
    ),
    (
        "其他不宜直播，被驳回",
        replace(
            LOAN, flags=frozenset({"other_unsuitable"}), approval=Approval(A.REJECTED, L.COURT)
        ),
        Eligibility.STREAM,
        "flag.other_unsuitable.rejected",
    ),
    (
        "执行案件不在直播范围",
        Facts("执", "执行", P.FIRST_INSTANCE, K.HEARING, True),
        Eligibility.EXCLUDED,
        "case_type",
    ),
    (
        "再审审查程序不直播",
        Facts("民申", "借款合同纠纷", P.RETRIAL_REVIEW, K.HEARING, True),
        Eligibility.EXCLUDED,
        "procedure",
    ),
]


@pytest.mark.parametrize(("what", "facts", "outcome", "rule"), TABLE, ids=[t[0] for t in TABLE])
def test_every_rule(what: str, facts: Facts, outcome: Eligibility, rule: str) -> None:
    decision = decide(facts, RULES)
    assert (decision.outcome, decision.rule) == (outcome, rule), what
    assert decision.reason_zh and decision.reason_en
    if outcome is Eligibility.EXCLUDED and rule.startswith("cause."):
        assert facts.cause in decision.reason_zh  # the clerk sees which cause matched


def test_approval_levels_follow_the_rules() -> None:
    """Listed categories need a department-level record, `other unsuitable` a court-level one."""
    assert decide(replace(LOAN, cause="离婚纠纷"), RULES).level is L.DEPARTMENT
    assert decide(replace(LOAN, flags=frozenset({"sensitive"})), RULES).level is L.DEPARTMENT
    assert decide(replace(LOAN, flags=frozenset({"other_unsuitable"})), RULES).level is L.COURT
    assert decide(replace(LOAN, public=False), RULES).level is None  # no approval needed


facts_strategy = st.builds(
    Facts,
    case_type=st.sampled_from(["民初", "民终", "刑初", "行初", "民再", "执", "民特"]),
    cause=st.sampled_from(["民间借贷纠纷", "离婚纠纷", "盗窃罪", "监护权纠纷", "", "X"]),
    procedure=st.sampled_from(list(Procedure)),
    session_kind=st.sampled_from(list(SessionKind)),
    public=st.booleans(),
    non_public_reason=st.none() | st.text(max_size=10),
    flags=st.frozensets(st.sampled_from(sorted(RULES.flag_ids))),
    approval=st.none()
    | st.builds(
        Approval,
        st.sampled_from(list(ApprovalStatus)),
        st.none() | st.sampled_from(list(ApprovalLevel)),
    ),
)


@given(facts_strategy)
def test_a_hearing_not_public_is_never_streamed(facts: Facts) -> None:
    decision = decide(replace(facts, public=False), RULES)
    assert decision.outcome is Eligibility.EXCLUDED
    assert decision.rule == "not_public"


@given(facts_strategy)
def test_flags_other_than_other_unsuitable_always_exclude(facts: Facts) -> None:
    decision = decide(facts, RULES)
    hard = facts.flags - {"other_unsuitable"}
    if hard:
        assert decision.outcome is Eligibility.EXCLUDED
    if decision.outcome is Eligibility.STREAM:
        assert facts.public and not hard


def test_rules_are_data_and_validated(tmp_path: Path) -> None:
    shipped = (Path(__file__).parent.parent / "streamd" / "policy" / "rules.toml").read_text()
    narrowed = tmp_path / "court.toml"
    narrowed.write_text(shipped.replace('"second_instance", ', ""), encoding="utf-8")
    court = load_rules(narrowed)
    appeal = Facts("民终", "买卖合同纠纷", P.SECOND_INSTANCE, K.HEARING, True)
    assert decide(appeal, RULES).outcome is Eligibility.STREAM
    assert decide(appeal, court).rule == "procedure"

    bad = tmp_path / "bad.toml"
    bad.write_text(shipped.replace('"民初", "民终"', '"民初", "民X"'), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad\.toml: streamable: .*unknown case-type code"):
        load_rules(bad)
    bad.write_text(
        shipped.replace('\neffect = "exclude"', '\neffect = "maybe"', 1), encoding="utf-8"
    )
    with pytest.raises(PolicyError, match=r"flags\.0\.effect"):
        load_rules(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        load_rules(tmp_path / "missing.toml")


# ---- streamd policy evaluate -----------------------------------------------------------------


def _item(ident: str, **kw: object) -> dict[str, object]:
    item: dict[str, object] = {
        "id": ident,
        "case_number": "（2026）粤0111民初1234号",
        "cause": "民间借贷纠纷",
        "procedure": "first_instance",
        "session_kind": "hearing",
        "public": True,
        "flags": [],
    }
    item.update(kw)
    return item


def _run(
    tmp_path: Path, data: object, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    path = tmp_path / "hearings.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    code = main(["policy", "evaluate", str(path), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_one_decision_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = [
        _item("a"),
        _item("b", cause="离婚纠纷"),
        _item(
            "c",
            public=False,
            non_public_reason="涉及商业秘密",
            flags=["other_unsuitable"],
            approval={"status": "rejected", "level": "court"},
        ),
        _item("d", flags=["other_unsuitable"]),
        _item("e", flags=["other_unsuitable"], approval={"status": "approved", "level": "court"}),
        _item("f", flags=["other_unsuitable"], approval={"status": "rejected", "level": "court"}),
        _item(
            "g",
            case_number="(2026)粤0111刑初8号",
            cause="故意伤害罪",
            flags=["accomplice_pending"],
            approval={"status": "rejected", "level": "department"},
        ),
    ]
    code, out, err = _run(tmp_path, data, capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [set(r) for r in rows] == [{"id", "decision", "rule", "reason"}] * len(data)
    assert [(r["id"], r["decision"]) for r in rows] == [
        ("a", "stream"),
        ("b", "excluded"),
        ("c", "excluded"),
        ("d", "needs_approval"),
        ("e", "excluded"),
        ("f", "stream"),
        ("g", "excluded"),
    ]
    assert rows[2]["rule"] == "not_public"
    code, out, _ = _run(tmp_path, data[:2], capsys, "--lang", "zh")
    assert "离婚" in json.loads(out.splitlines()[1])["reason"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": "a"}, "must be a JSON list"),
        ([_item("a"), _item("b", procedure="appeal")], r"\[1\] \(id 'b'\)\.procedure"),
        ([_item("a", case_number="2026民初1号")], r"\[0\] \(id 'a'\)\.case_number: .*year"),
        ([_item("a", flags=["gory"])], r"\[0\] \(id 'a'\)\.flags\[0\]: unknown flag 'gory'"),
        (
            [{k: v for k, v in _item("a").items() if k != "public"}],
            r"\[0\] \(id 'a'\)\.public: Field required",
        ),
        ([_item("a", session_kind="trial")], r"session_kind"),
        ([_item("a", approval={"status": "maybe", "level": "court"})], r"approval\.status"),
        ([_item("a", approval={"status": "approved"})], r"approval\.level: required"),
        ([_item("a"), _item("a")], r"\[1\] \(id 'a'\)\.id: duplicate"),
        ([_item("a", procedure="enforcement")], r"procedure: 'enforcement'"),
        ([_item("a", public="yes")], r"public: Input should be a valid boolean"),
    ],
)
def test_cli_refuses_malformed_input_and_prints_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: object, message: str
) -> None:
    code, out, err = _run(tmp_path, data, capsys)
    assert code == 2
    assert out == ""
    assert re.search(message, err), err


def test_cli_reads_stdin_as_an_installed_command(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "streamd.cli", "policy", "evaluate", "-"],
        input=json.dumps([_item("x", cause="抚养费纠纷")]),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rule"] == "cause.minor_children"
